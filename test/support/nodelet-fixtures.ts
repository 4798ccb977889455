import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { KubeStatus } from '../../services/nodelet/status-file';
import { tempDir } from './fixtures';
import { DIST, Proc, REPO_ROOT } from './processes';
import { waitFor } from './wait';

export type StandIn = [order: number, name: string, roles?: string];
type Control = 'fail-start' | 'hang' | 'busy' | 'up' | 'slow';

/**
 * A host root (PF9_ROOT) with stand-in phase scripts: each records `name op` in ops.log
 * and is "up" while a marker file exists; files beside them script failures
 * (`<name>.fail-start`: a count or `always`), a hanging check (`<name>.hang`), a busy
 * one (`<name>.busy`: seconds of spinning) or a slow start (`<name>.slow`: seconds).
 */
export class NodeletWorld {
  readonly phasesDir: string;
  readonly world: string;
  private procs: Proc[] = [];

  private constructor(readonly root: string) {
    this.phasesDir = join(root, 'phases');
    this.world = join(root, 'world');
  }

  static async create(phases: StandIn[], prefix = 'nodelet'): Promise<NodeletWorld> {
    const world = new NodeletWorld(await tempDir(prefix));
    await mkdir(world.phasesDir, { recursive: true });
    await mkdir(world.world, { recursive: true });
    for (const [order, name, roles] of phases) await world.addPhase(order, name, roles);
    return world;
  }

  async addPhase(order: number, name: string, roles?: string): Promise<void> {
    const file = join(this.phasesDir, `${String(order).padStart(3, '0')}-${name}.sh`);
    const w = this.world;
    await writeFile(
      file,
      `#!/bin/sh
${roles ? `# nodelet-roles: ${roles}\n` : ''}W='${w}'
N='${name}'
echo "$N $1" >> "$W/ops.log"
case "$1" in
  start)
    if [ -f "$W/$N.slow" ]; then sleep "$(cat "$W/$N.slow")"; fi
    if [ -f "$W/$N.fail-start" ]; then
      left=$(cat "$W/$N.fail-start")
      if [ "$left" = always ]; then echo "$N: start failed (always)"; exit 1; fi
      if [ "$left" -gt 0 ]; then echo $((left - 1)) > "$W/$N.fail-start"; echo "$N: start failed ($left left)"; exit 1; fi
    fi
    touch "$W/$N.up"; echo "$N started with ROLE=$ROLE" ;;
  stop) rm -f "$W/$N.up"; echo "$N stopped" ;;
  status)
    if [ -f "$W/$N.hang" ]; then sleep 300 & echo $! > "$W/$N.hang-child"; sleep 300; fi
    if [ -f "$W/$N.busy" ]; then timeout "$(cat "$W/$N.busy")" sh -c 'while :; do :; done'; fi
    test -f "$W/$N.up" || { echo "$N is not running"; exit 1; } ;;
esac
`,
    );
    await chmod(file, 0o755);
  }

  /** Writes etc/pf9/nodelet/<file> as YAML. */
  async config(values: Record<string, unknown>, file = '10-test.yaml'): Promise<void> {
    const dir = join(this.root, 'etc/pf9/nodelet');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, file), stringify(values));
  }

  /** A master with these stand-ins, fast loops, every phase run once per status check. */
  baseConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { ROLE: 'master', CLUSTER_ID: 'c1', KUBE_SERVICE_STATE: 'true', LOOP_INTERVAL: 1, PHASE_RETRY: 1, USE_CGROUPS: false, PHASES_DIR: this.phasesDir, ...overrides };
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, PF9_ROOT: this.root, PF9_NODELET_ADMIN: '127.0.0.1:0', PF9_NODELET_CONFIG_POLL_MS: '200', ...extra };
  }

  /** The daemon, as `node dist/services/nodelet/main.js`. */
  start(extra: NodeJS.ProcessEnv = {}): Proc {
    const proc = new Proc(join(DIST, 'services/nodelet/main.js'), this.env(extra), this.root);
    this.procs.push(proc);
    return proc;
  }

  /** `bin/nodeletd <args>` against this root. */
  async cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [join(REPO_ROOT, 'bin/nodeletd'), ...args], { env: this.env(), cwd: this.root, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (stdin !== undefined) child.stdin?.end(stdin);
      else child.stdin?.end();
    });
  }

  async status(): Promise<KubeStatus | null> {
    try {
      return JSON.parse(await readFile(join(this.root, 'var/opt/pf9/kube_status'), 'utf8'));
    } catch {
      return null;
    }
  }

  async waitStatus(what: string, probe: (s: KubeStatus) => boolean, timeoutMs = 20_000): Promise<KubeStatus> {
    return waitFor(
      what,
      async () => {
        const s = await this.status();
        return s !== null && probe(s) ? s : undefined;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  ops(): string[] {
    try {
      return readFileSync(join(this.world, 'ops.log'), 'utf8').split('\n').filter((l) => l !== '');
    } catch {
      return [];
    }
  }

  async clearOps(): Promise<void> {
    await rm(join(this.world, 'ops.log'), { force: true });
  }

  async set(name: string, control: Control, value = ''): Promise<void> {
    await writeFile(join(this.world, `${name}.${control}`), value);
  }

  async unset(name: string, control: Control): Promise<void> {
    await rm(join(this.world, `${name}.${control}`), { force: true });
  }

  async stopAll(): Promise<void> {
    for (const proc of this.procs) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
      proc.kill('SIGKILL');
      await proc.exit(5000).catch(() => undefined);
    }
    this.procs = [];
  }
}

/** Alive and not a zombie (this container's init may be slow to reap what it inherits). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export const execFileAsync = promisify(execFile);
