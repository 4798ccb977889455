import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { buildPackage } from '#role-package';

export function newHostId(): string {
  return randomUUID();
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `hostplane-${prefix}-`));
}

/** A heartbeat body as CONTRACT.md section 4 describes it. */
export function heartbeatBody(hostId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostId,
    hostname: `host-${hostId.slice(0, 8)}`,
    agentVersion: '0.1.0',
    sentAt: new Date().toISOString(),
    uptimeS: 1234,
    cpu: { model: 'Test CPU', cores: 2, loadavg: [0.1, 0.2, 0.3], usagePct: 12.5 },
    memory: { totalBytes: 8_000_000_000, availableBytes: 4_000_000_000 },
    storage: [{ mount: '/', fs: 'ext4', totalBytes: 100_000_000_000, usedBytes: 40_000_000_000 }],
    network: [{ name: 'eth0', mac: '02:00:00:00:00:01', addresses: [{ family: 'IPv4', address: '192.0.2.10', cidr: '192.0.2.10/24' }] }],
    os: { platform: 'linux', release: '6.1.0', distro: 'Debian GNU/Linux 12 (bookworm)' },
    roles: [],
    ...overrides,
  };
}

export interface RoleSource {
  name: string;
  version: string;
  /** Hook name → POSIX sh script body (after the shebang). */
  hooks: Record<string, string>;
  extraFiles?: Record<string, string>;
}

/** Writes a role folder (role.json and executable hooks under bin/) and answers its path. */
export async function writeRoleDir(source: RoleSource): Promise<string> {
  const dir = await tempDir(`role-${source.name}`);
  const hooks: Record<string, string> = {};
  for (const [hook, body] of Object.entries(source.hooks)) {
    const rel = `bin/${hook}`;
    hooks[hook] = rel;
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, rel), `#!/bin/sh\nset -e\n${body}\n`);
    await chmod(join(dir, rel), 0o755);
  }
  for (const [rel, content] of Object.entries(source.extraFiles ?? {})) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  await writeFile(join(dir, 'role.json'), JSON.stringify({ name: source.name, version: source.version, hooks }, null, 2));
  return dir;
}

export async function buildRole(source: RoleSource): Promise<Buffer> {
  return buildPackage(await writeRoleDir(source));
}

/** A role whose configure writes its config under $PF9_ROOT, and whose getConfig reads it back. */
export function fileRole(name: string, version: string, extra: Partial<Record<string, string>> = {}): RoleSource {
  const hooks: Record<string, string> = {
    install: `mkdir -p "$PF9_ROOT/etc/${name}"; echo installed ${version} > "$PF9_ROOT/etc/${name}/installed"`,
    configure: `mkdir -p "$PF9_ROOT/etc/${name}"; cat > "$PF9_ROOT/etc/${name}/config.json"`,
    start: `mkdir -p "$PF9_ROOT/var/run"; touch "$PF9_ROOT/var/run/${name}.running"`,
    status: `test -f "$PF9_ROOT/var/run/${name}.running"`,
    getConfig: `cat "$PF9_ROOT/etc/${name}/config.json"`,
    stop: `rm -f "$PF9_ROOT/var/run/${name}.running"`,
    remove: `rm -rf "$PF9_ROOT/etc/${name}"`,
  };
  for (const [hook, body] of Object.entries(extra)) if (body !== undefined) hooks[hook] = body;
  return { name, version, hooks };
}
