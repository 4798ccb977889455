import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HookName } from '#contracts';
import { inspectPackage } from '#role-package';
import { buildExamples, findRepoRoot } from './build-examples';

const ROLES_DIR = join(findRepoRoot(__dirname), 'examples', 'roles');
/** Where each awk this machine has lives (the hooks must run with any of them). */
const AWKS = ['mawk', 'gawk', 'busybox']
  .map((name) => ({ name, path: spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim() }))
  .filter((awk) => awk.path !== '' && (awk.name !== 'busybox' || spawnSync(awk.path, ['awk', 'BEGIN{}']).status === 0));

/**
 * A PATH holding only what a minimal host (a Debian minbase, the project's image) has for
 * sure: no python3, no perl, no node. `awk` is the given implementation.
 */
async function minimalPath(dir: string, awk: { name: string; path: string }): Promise<string> {
  const bin = join(dir, `bin-${awk.name}`);
  await mkdir(bin, { recursive: true });
  for (const tool of ['dirname', 'mkdir', 'mv', 'rm', 'cat']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    assert.ok(found !== '', `${tool} is on this machine`);
    await symlink(found, join(bin, tool));
  }
  if (awk.name === 'busybox') await writeFile(join(bin, 'awk'), `#!/bin/sh\nexec ${awk.path} awk "$@"\n`, { mode: 0o755 });
  else await symlink(awk.path, join(bin, 'awk'));
  return bin;
}

interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RoleJson {
  name: string;
  version: string;
  hooks: Partial<Record<HookName, string>>;
}

async function readRoleJson(folder: string): Promise<RoleJson> {
  return JSON.parse(await readFile(join(ROLES_DIR, folder, 'role.json'), 'utf8')) as RoleJson;
}

/** Runs a hook the way the host agent does (CONTRACT.md section 6): from the role folder, with the PF9_ variables. */
async function runHook(folder: string, hook: HookName, root: string, stdin = ''): Promise<HookRun> {
  return runHookWith(folder, hook, root, stdin, process.env.PATH);
}

async function runHookWith(folder: string, hook: HookName, root: string, stdin: string, searchPath: string | undefined): Promise<HookRun> {
  const role = await readRoleJson(folder);
  const path = role.hooks[hook];
  assert.ok(path, `${folder} has no ${hook} hook`);
  const dir = join(ROLES_DIR, folder);
  const child = spawn(join(dir, path), [], {
    cwd: dir,
    env: {
      PATH: searchPath,
      PF9_ROLE: role.name,
      PF9_ROLE_VERSION: role.version,
      PF9_ROLE_DIR: dir,
      PF9_HOST_ID: 'test-host',
      PF9_ROOT: root,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Hooks other than configure may exit without reading stdin; that is theirs to do, not an error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('example role packages', () => {
  let out: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'hostplane-examples-'));
  });
  after(() => rm(out, { recursive: true, force: true }));

  it('every folder builds into a package that inspectPackage accepts', async () => {
    const built = await buildExamples(ROLES_DIR, out);
    assert.deepEqual(
      built.map((b) => `${b.folder} -> ${b.name}-${b.version}`),
      ['demo -> demo-1.0.0', 'demo-v2 -> demo-1.1.0', 'keepalived -> keepalived-vip-1.0.0', 'pf9-kube -> pf9-kube-1.0.0'],
    );
    for (const example of built) {
      const inspected = await inspectPackage(await readFile(example.path));
      assert.equal(inspected.sha256, example.sha256);
      assert.equal(inspected.manifest.name, example.name);
      for (const hook of Object.values(inspected.manifest.hooks)) {
        const entry = inspected.entries.find((e) => e.path === hook);
        assert.ok(entry && (entry.mode & 0o111) !== 0, `${example.folder}: ${String(hook)} is executable in the package`);
      }
    }
  });

  it('every hook on disk is executable (as git must keep it)', async () => {
    for (const folder of await readdir(ROLES_DIR)) {
      for (const hook of Object.values((await readRoleJson(folder)).hooks)) {
        await access(join(ROLES_DIR, folder, hook), constants.X_OK);
      }
    }
  });

  it('demo-v2 differs from demo only in its version', async () => {
    const [v1, v2] = [await readRoleJson('demo'), await readRoleJson('demo-v2')];
    assert.deepEqual({ ...v2, version: v1.version }, v1);
    assert.equal(v2.version, '1.1.0');
    for (const file of await readdir(join(ROLES_DIR, 'demo', 'bin'))) {
      const [a, b] = await Promise.all([readFile(join(ROLES_DIR, 'demo', 'bin', file)), readFile(join(ROLES_DIR, 'demo-v2', 'bin', file))]);
      assert.ok(a.equals(b), `demo-v2/bin/${file} is a copy of demo/bin/${file}`);
    }
  });
});

describe('demo role hooks', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostplane-demo-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const config = { greeting: 'hello', replicas: 2, nested: { on: true } };

  it('runs install, configure, start, status, getConfig, stop and remove under PF9_ROOT', async () => {
    assert.equal((await runHook('demo', 'install', root)).code, 0);
    assert.equal((await runHook('demo', 'getConfig', root)).stdout.trim(), 'null', 'nothing configured yet');

    const configured = await runHook('demo', 'configure', root, JSON.stringify(config));
    assert.equal(configured.code, 0, configured.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'etc/demo/config.json'), 'utf8')), config);

    assert.equal((await runHook('demo', 'start', root)).code, 0);
    assert.equal((await readFile(join(root, 'var/run/demo.running'), 'utf8')).trim(), '1.0.0');
    assert.equal((await runHook('demo', 'status', root)).code, 0);

    const current = await runHook('demo', 'getConfig', root);
    assert.equal(current.code, 0);
    assert.deepEqual(JSON.parse(current.stdout), config);

    assert.equal((await runHook('demo', 'stop', root)).code, 0);
    assert.notEqual((await runHook('demo', 'status', root)).code, 0);
    assert.equal((await runHook('demo', 'stop', root)).code, 0, 'stopping twice is fine');

    assert.equal((await runHook('demo', 'remove', root)).code, 0);
    assert.equal(await exists(join(root, 'etc/demo')), false);
    assert.equal((await runHook('demo', 'remove', root)).code, 0, 'removing twice is fine');
  });

  it('version 1.1.0 takes over the files of 1.0.0 (upgrade)', async () => {
    await runHook('demo', 'configure', root, '{"v":1}');
    await runHook('demo', 'start', root);
    assert.equal((await runHook('demo-v2', 'configure', root, '{"v":2}')).code, 0);
    assert.equal((await runHook('demo-v2', 'start', root)).code, 0);
    assert.equal((await readFile(join(root, 'var/run/demo.running'), 'utf8')).trim(), '1.1.0');
    assert.deepEqual(JSON.parse((await runHook('demo-v2', 'getConfig', root)).stdout), { v: 2 });
    await runHook('demo-v2', 'remove', root);
  });
});

it('there is an awk to run the keepalived-vip hooks with', () => assert.ok(AWKS.length > 0, 'mawk, gawk or busybox'));

for (const awk of AWKS) describe(`keepalived-vip role hooks, with ${awk.name} and no python3`, () => {
  let root: string;
  let conf: string;
  let path: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostplane-keepalived-'));
    conf = join(root, 'etc/keepalived/keepalived.conf');
    path = await minimalPath(root, awk);
  });
  after(() => rm(root, { recursive: true, force: true }));
  const runHook = (folder: string, hook: HookName, hookRoot: string, stdin = ''): Promise<HookRun> => runHookWith(folder, hook, hookRoot, stdin, path);

  const config = { vip: '10.0.0.100/24', interface: 'eth0', routerId: 51, priority: 100 };

  it('renders keepalived.conf in keepalived syntax and reads it back', async () => {
    assert.equal((await runHook('keepalived', 'install', root)).code, 0);
    const configured = await runHook('keepalived', 'configure', root, JSON.stringify(config));
    assert.equal(configured.code, 0, configured.stderr);
    const text = await readFile(conf, 'utf8');
    assert.match(
      text,
      /vrrp_instance VI_1 \{\n\s+state MASTER\n\s+interface eth0\n\s+virtual_router_id 51\n\s+priority 100\n\s+advert_int 1\n\s+virtual_ipaddress \{\n\s+10\.0\.0\.100\/24\n\s+\}\n\}\n$/,
    );
    assert.equal((await runHook('keepalived', 'status', root)).code, 0, 'configure records the service as running');
    assert.equal((await runHook('keepalived', 'start', root)).code, 0);
    assert.equal((await runHook('keepalived', 'status', root)).code, 0);
    const current = await runHook('keepalived', 'getConfig', root);
    assert.equal(current.code, 0, current.stderr);
    assert.deepEqual(JSON.parse(current.stdout), config);
  });

  it('reports a hand edit of the interface as drift, and configure repairs it', async () => {
    const text = await readFile(conf, 'utf8');
    await writeFile(conf, text.replace('interface eth0', 'interface   ens3   # moved by hand'));
    assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), { ...config, interface: 'ens3' });
    assert.equal((await runHook('keepalived', 'configure', root, JSON.stringify(config))).code, 0);
    assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), config);
  });

  for (const [label, bad, message] of [
    ['not JSON', 'vip=1', /config on stdin is not JSON/],
    ['a vip without prefix', JSON.stringify({ ...config, vip: '10.0.0.100' }), /vip must be an address with a prefix/],
    ['a missing field', JSON.stringify({ vip: '10.0.0.100/24', interface: 'eth0', routerId: 51 }), /config is missing priority/],
    ['an unknown field', JSON.stringify({ ...config, state: 'BACKUP' }), /config has unknown keys state/],
    ['a router id out of range', JSON.stringify({ ...config, routerId: 256 }), /routerId must be an integer from 1 to 255/],
    ['a bad interface name', JSON.stringify({ ...config, interface: 'eth0; rm -rf /' }), /interface must be an interface name/],
    ['an interface name of 16 characters', JSON.stringify({ ...config, interface: 'a234567890123456' }), /interface must be an interface name/],
    ['a vip that would add lines to the file', JSON.stringify({ ...config, vip: '10.0.0.1/24\n}\nvrrp_script x {' }), /vip must be an address with a prefix/],
    ['an IPv4 address out of range', JSON.stringify({ ...config, vip: '10.0.0.256/24' }), /vip must be an address with a prefix/],
    ['a prefix too long', JSON.stringify({ ...config, vip: '10.0.0.1/33' }), /vip must be an address with a prefix/],
    ['an IPv6 address with two "::"', JSON.stringify({ ...config, vip: 'fd00::1::2/64' }), /vip must be an address with a prefix/],
    ['a vip that is not a string', JSON.stringify({ ...config, vip: ['10.0.0.100/24'] }), /vip must be an address with a prefix/],
    ['a router id written as a string', JSON.stringify({ ...config, routerId: '51' }), /routerId must be an integer from 1 to 255/],
    ['a fractional priority', '{"vip":"10.0.0.100/24","interface":"eth0","routerId":51,"priority":100.0}', /priority must be an integer from 1 to 255/],
    ['a boolean priority', JSON.stringify({ ...config, priority: true }), /priority must be an integer from 1 to 255/],
    ['an array', '[1, 2]', /config must be a JSON object/],
    ['text after the object', `${JSON.stringify(config)} x`, /config on stdin is not JSON/],
    ['a raw control character in a string', '{"vip":"10.0.0.100/24","interface":"eth\u00010","routerId":51,"priority":100}', /config on stdin is not JSON/],
    ['an object that does not end', '{"vip":"10.0.0.100/24"', /config on stdin is not JSON/],
    ['nothing', '', /config on stdin is not JSON/],
  ] as const) {
    it(`refuses ${label} and keeps the running config`, async () => {
      const run = await runHook('keepalived', 'configure', root, bad);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, message);
      assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), config);
      assert.equal(await exists(`${conf}.tmp`), false);
    });
  }

  it('takes any JSON layout of the same config: whitespace, key order, escapes', async () => {
    const layout = '{\n  "priority" : 100,\t"routerId":51,\r\n "\\u0076ip": "10.0.0.100\\/24", "interface": "eth0"\n}\n';
    assert.deepEqual(JSON.parse(layout), config, 'the same config, as JSON reads it');
    const run = await runHook('keepalived', 'configure', root, layout);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), config);
  });

  it('takes an IPv6 VIP, and reads back whatever a hand edit wrote as valid JSON', async () => {
    for (const vip of ['fd00::100/64', '2001:db8:0:0:0:0:2:1/128', '::ffff:10.0.0.1/120', '::/0']) {
      const v6 = { ...config, vip };
      const run = await runHook('keepalived', 'configure', root, JSON.stringify(v6));
      assert.equal(run.code, 0, `${vip}: ${run.stderr}`);
      assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), v6);
    }
    const text = await readFile(conf, 'utf8');
    await writeFile(conf, text.replace('interface eth0', 'interface et"h\\0').replace('priority 100', 'priority 0100'));
    assert.deepEqual(JSON.parse((await runHook('keepalived', 'getConfig', root)).stdout), { ...config, vip: '::/0', interface: 'et"h\\0', priority: 100 });
    assert.equal((await runHook('keepalived', 'configure', root, JSON.stringify(config))).code, 0);
  });

  it('stops and removes', async () => {
    assert.equal((await runHook('keepalived', 'stop', root)).code, 0);
    assert.notEqual((await runHook('keepalived', 'status', root)).code, 0);
    assert.equal((await runHook('keepalived', 'remove', root)).code, 0);
    assert.equal(await exists(join(root, 'etc/keepalived')), false);
    assert.equal(await exists(join(root, 'var/run/keepalived.running')), false);
    assert.equal((await runHook('keepalived', 'getConfig', root)).stdout.trim(), 'null');
  });
});
