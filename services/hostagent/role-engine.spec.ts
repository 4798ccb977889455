import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredRole, HostDesiredStateControl } from '#contracts';
import { Logger } from '#logging';
import { sha256Hex } from '#role-package';
import { paxHeaderBomb } from '../../libs/role-package/raw-tar.fixtures';
import { buildRole, fileRole, tempDir, type RoleSource } from '../../test/support/fixtures';
import { HookRunner } from './hook-runner';
import { PackageDownloadError, type PackageSource } from './package-fetcher';
import { RoleEngine, type RoleEngineOptions, type RoleStatusReport, type StatusSink } from './role-engine';
import { RoleStateStore, type AgentState } from './role-state.store';

const HOST = 'host-1';
const quiet = new Logger('test', 'error');

class Packages implements PackageSource {
  readonly bytes = new Map<string, Buffer>();
  failNext: Error | null = null;
  fetches = 0;

  async add(source: RoleSource): Promise<DesiredRole> {
    const bytes = await buildRole(source);
    this.bytes.set(`${source.name}@${source.version}`, bytes);
    return { name: source.name, version: source.version, sha256: sha256Hex(bytes), config: {}, generation: 0 };
  }

  async fetch(name: string, version: string): Promise<Buffer> {
    this.fetches += 1;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    const bytes = this.bytes.get(`${name}@${version}`);
    if (!bytes) throw new PackageDownloadError(`no package ${name} ${version}`);
    return bytes;
  }
}

class Reports implements StatusSink {
  readonly all: RoleStatusReport[] = [];
  async report(status: RoleStatusReport): Promise<void> {
    this.all.push(status);
  }
  states(role: string): string[] {
    return this.all.filter((r) => r.role === role).map((r) => r.state);
  }
  last(role: string): RoleStatusReport | undefined {
    return this.all.filter((r) => r.role === role).at(-1);
  }
}

async function setup(hookTimeoutMs = 10_000, retry: Pick<RoleEngineOptions, 'retryInitialMs' | 'retryMaxMs' | 'clock'> = {}) {
  const root = await tempDir('engine');
  const packages = new Packages();
  const reports = new Reports();
  const engine = new RoleEngine(
    { hostId: HOST, root, hookTimeoutMs, ...retry },
    new RoleStateStore(join(root, 'var/lib/pf9/hostagent/state.json')),
    packages,
    new HookRunner({ killGraceMs: 500, outputDrainMs: 500 }),
    reports,
    quiet,
  );
  await engine.init();
  let generation = 0;
  const offer = async (roles: DesiredRole[], state: 'authorized' | 'unauthorized' = 'authorized'): Promise<HostDesiredStateControl> => {
    generation += 1;
    const desired = { hostId: HOST, state, generation, roles: roles.map((r) => ({ ...r, generation })) };
    await engine.offer(desired);
    await engine.idle();
    return desired;
  };
  return { root, packages, reports, engine, offer };
}

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('RoleEngine', () => {
  test('installs a role: download, verify, unpack, install, configure with the config on stdin, start; reports each step', async () => {
    const { root, packages, reports, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    await offer([{ ...demo, config: { port: 8080 } }]);
    assert.deepEqual(reports.states('demo'), ['downloading', 'installing', 'configuring', 'applied']);
    assert.equal(reports.last('demo')?.generation, 1);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'etc/demo/config.json'), 'utf8')), { port: 8080 });
    assert.ok(await exists(join(root, 'var/run/demo.running')));
    assert.ok(await exists(join(root, 'opt/pf9/roles/demo/1.0.0/role.json')));
    const log = await readFile(join(root, 'var/log/pf9/role-demo.log'), 'utf8');
    assert.match(log, /configure/);
  });

  test('hooks get PF9_ROLE, PF9_ROLE_VERSION, PF9_ROLE_DIR, PF9_HOST_ID, PF9_ROOT and run in the package folder', async () => {
    const { root, packages, offer } = await setup();
    const env = await packages.add({
      name: 'env',
      version: '2.0.0',
      hooks: { configure: 'mkdir -p "$PF9_ROOT/out"; { echo "$PF9_ROLE"; echo "$PF9_ROLE_VERSION"; echo "$PF9_ROLE_DIR"; echo "$PF9_HOST_ID"; echo "$PF9_ROOT"; pwd; } > "$PF9_ROOT/out/env"' },
    });
    await offer([env]);
    const dir = join(root, 'opt/pf9/roles/env/2.0.0');
    assert.deepEqual((await readFile(join(root, 'out/env'), 'utf8')).trim().split('\n'), ['env', '2.0.0', dir, HOST, root, dir]);
  });

  test('the same desired state at a newer generation runs nothing again; a new config configures again', async () => {
    const { root, packages, reports, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    await offer([{ ...demo, config: { a: 1 } }]);
    await offer([{ ...demo, config: { a: 1 } }]);
    assert.equal(packages.fetches, 1);
    assert.deepEqual(reports.states('demo').slice(4), ['applied']);
    await offer([{ ...demo, config: { a: 2 } }]);
    assert.deepEqual(reports.states('demo').slice(5), ['configuring', 'applied']);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'etc/demo/config.json'), 'utf8')), { a: 2 });
  });

  test('an upgrade installs beside the old version and removes the old one once the new one runs', async () => {
    const { root, packages, reports, engine, offer } = await setup();
    const v1 = await packages.add(fileRole('demo', '1.0.0'));
    const v2 = await packages.add(fileRole('demo', '1.1.0'));
    await offer([{ ...v1, config: { a: 1 } }]);
    await offer([{ ...v2, config: { a: 1 } }]);
    assert.equal(reports.last('demo')?.state, 'applied');
    assert.equal(reports.last('demo')?.version, '1.1.0');
    assert.match(reports.last('demo')?.message ?? '', /upgraded from 1.0.0/);
    assert.ok(await exists(join(root, 'opt/pf9/roles/demo/1.1.0')));
    assert.ok(!(await exists(join(root, 'opt/pf9/roles/demo/1.0.0'))));
    assert.deepEqual(engine.summary(), [{ name: 'demo', version: '1.1.0', state: 'applied', generation: 2 }]);
  });

  test('a failed upgrade puts the old version back and reports the failure with the hook output', async () => {
    const { root, packages, reports, engine, offer } = await setup();
    const v1 = await packages.add(fileRole('demo', '1.0.0'));
    const bad = await packages.add(fileRole('demo', '2.0.0', { configure: 'echo "cannot parse config: line 3" >&2; exit 3' }));
    await offer([{ ...v1, config: { a: 1 } }]);
    await offer([{ ...bad, config: { a: 2 } }]);
    const last = reports.last('demo');
    assert.equal(last?.state, 'failed');
    assert.equal(last?.version, '2.0.0');
    assert.match(last?.message ?? '', /hook configure failed \(exit 3\); rolled back to 1.0.0/);
    assert.match(last?.log ?? '', /cannot parse config: line 3/);
    assert.ok(!(await exists(join(root, 'opt/pf9/roles/demo/2.0.0'))), 'the failed version is gone');
    assert.deepEqual(JSON.parse(await readFile(join(root, 'etc/demo/config.json'), 'utf8')), { a: 1 }, 'the old config runs again');
    assert.ok(await exists(join(root, 'var/run/demo.running')));
    assert.deepEqual(engine.summary(), [{ name: 'demo', version: '1.0.0', state: 'applied', generation: 1 }]);
    await engine.converge();
    assert.equal(reports.all.filter((r) => r.version === '2.0.0' && r.state === 'downloading').length, 1, 'a hook failure is not retried in a loop');
  });

  test('a hook that hangs past its timeout is killed and the apply fails', async () => {
    const { packages, reports, offer } = await setup(700);
    const hang = await packages.add({ name: 'hang', version: '1.0.0', hooks: { configure: 'sleep 60' } });
    const started = Date.now();
    await offer([hang]);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(reports.last('hang')?.state, 'failed');
    assert.match(reports.last('hang')?.message ?? '', /timed out/);
  });

  test('a package whose sha256 differs from the recorded one is refused and nothing is unpacked', async () => {
    const { root, packages, reports, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    await offer([{ ...demo, sha256: 'a'.repeat(64) }]);
    assert.equal(reports.last('demo')?.state, 'failed');
    assert.match(reports.last('demo')?.message ?? '', /sha256/);
    assert.ok(!(await exists(join(root, 'opt/pf9/roles/demo/1.0.0'))));
  });

  test('a decompression bomb (1.5 MB inflating to 800 MB of pax headers) is refused before anything is unpacked', async () => {
    const { root, packages, reports, offer } = await setup();
    const bomb = paxHeaderBomb();
    packages.bytes.set('demo@1.0.0', bomb.buf);
    await offer([{ name: 'demo', version: '1.0.0', sha256: sha256Hex(bomb.buf), config: {}, generation: 0 }]);
    assert.deepEqual(reports.states('demo'), ['downloading', 'failed']);
    assert.match(reports.last('demo')?.message ?? '', /extended headers \(pax, GNU long names\) take more than 16777216 bytes/);
    assert.deepEqual(await readdir(join(root, 'opt/pf9/roles/demo')).catch(() => []), [], 'nothing was written, not even a staging folder');
  });

  test('a failed download is tried again at the next check', async () => {
    const { packages, reports, engine, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    packages.failNext = new PackageDownloadError('connection refused');
    await offer([demo]);
    assert.equal(reports.last('demo')?.state, 'failed');
    await engine.converge();
    assert.equal(reports.last('demo')?.state, 'applied');
  });

  test('the periodic check starts a stopped service again and configures again a config edited by hand', async () => {
    const { root, packages, reports, engine, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    await offer([{ ...demo, config: { vip: '10.0.0.100/24', interface: 'eth0' } }]);
    await rm(join(root, 'var/run/demo.running'));
    await writeFile(join(root, 'etc/demo/config.json'), JSON.stringify({ vip: '10.0.0.100/24', interface: 'eth1' }));
    await engine.converge();
    assert.ok(await exists(join(root, 'var/run/demo.running')), 'started again');
    assert.deepEqual(JSON.parse(await readFile(join(root, 'etc/demo/config.json'), 'utf8')), { vip: '10.0.0.100/24', interface: 'eth0' }, 'drift corrected');
    const messages = reports.all.map((r) => r.message ?? '');
    assert.ok(messages.includes('was not running: started again'));
    assert.ok(messages.includes('configuration drift corrected'));
    const before = reports.all.length;
    await engine.converge();
    assert.equal(reports.all.length, before, 'a host in its desired state reports nothing');
  });

  test('a role no longer desired is stopped and removed; so are all roles of a deauthorized host', async () => {
    const { root, packages, reports, offer } = await setup();
    const a = await packages.add(fileRole('alpha', '1.0.0'));
    const b = await packages.add(fileRole('beta', '1.0.0'));
    await offer([a, b]);
    await offer([b]);
    assert.deepEqual(reports.states('alpha').slice(-2), ['removing', 'removed']);
    assert.equal(reports.last('alpha')?.generation, 2);
    assert.ok(!(await exists(join(root, 'etc/alpha'))), 'the remove hook ran');
    assert.ok(!(await exists(join(root, 'opt/pf9/roles/alpha'))));
    await offer([b], 'unauthorized');
    assert.deepEqual(reports.states('beta').slice(-2), ['removing', 'removed']);
  });

  test('an older desired state than the one held is ignored, and the held one survives a restart', async () => {
    const { root, packages, reports, engine, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    const desired = await offer([demo]);
    assert.equal(await engine.offer({ ...desired, generation: 0, roles: [] }), false);
    await engine.idle();
    assert.equal(reports.last('demo')?.state, 'applied');
    const again = new RoleEngine({ hostId: HOST, root, hookTimeoutMs: 5000 }, new RoleStateStore(join(root, 'var/lib/pf9/hostagent/state.json')), packages, new HookRunner(), reports, quiet);
    await again.init();
    assert.equal(again.generation, 1);
    assert.deepEqual(again.summary(), [{ name: 'demo', version: '1.0.0', state: 'applied', generation: 1 }]);
  });
});

describe('RoleEngine: a desired state at the generation held', () => {
  test('is taken when only its retry tokens differ (hostplane role retry), never when anything else does', async () => {
    const { packages, engine, offer } = await setup();
    const demo = await packages.add(fileRole('demo', '1.0.0'));
    const held = await offer([demo]);
    assert.equal(engine.onlyRetryTokensDiffer(held), false, 'the very state held asks for nothing');
    assert.equal(engine.onlyRetryTokensDiffer({ ...held, roles: held.roles.map((r) => ({ ...r, retry: 1 })) }), true);
    assert.equal(engine.onlyRetryTokensDiffer({ ...held, roles: [] }), false, 'a state that would wipe the host');
    assert.equal(engine.onlyRetryTokensDiffer({ ...held, roles: held.roles.map((r) => ({ ...r, retry: 1, config: { other: true } })) }), false);
    assert.equal(engine.onlyRetryTokensDiffer({ ...held, state: 'unauthorized', roles: [] }), false);
    assert.equal(engine.onlyRetryTokensDiffer({ ...held, generation: held.generation + 1, roles: held.roles.map((r) => ({ ...r, retry: 1 })) }), false);
  });
});

describe('RoleEngine: a role whose hook failed', () => {
  test('is tried again with a backoff that doubles up to its cap; every report carries the failures in a row; a retry token asks for an attempt now', async (t) => {
    let now = 1_000_000;
    const { root, packages, reports, engine, offer } = await setup(10_000, { retryInitialMs: 5000, retryMaxMs: 20_000, clock: () => now });
    t.after(() => engine.stop());
    const failed = async () => (JSON.parse(await readFile(join(root, 'var/lib/pf9/hostagent/state.json'), 'utf8')) as AgentState).failed.flaky;
    // configure fails until the marker file exists
    const flaky = await packages.add(fileRole('flaky', '1.0.0', { configure: 'test -f "$PF9_ROOT/fixed"; mkdir -p "$PF9_ROOT/etc/flaky"; cat > "$PF9_ROOT/etc/flaky/config.json"' }));
    const desired = await offer([flaky]);
    assert.deepEqual([reports.last('flaky')?.state, reports.last('flaky')?.failures], ['failed', 1]);

    const delays: number[] = [];
    for (let attempt = 2; attempt <= 5; attempt++) {
      const due = (await failed())?.nextAttemptMs ?? 0;
      delays.push(due - now);
      const before = reports.all.length;
      now = due - 1;
      await engine.reconcile();
      await engine.converge();
      assert.equal(reports.all.length, before, `attempt ${attempt} does not come before its time, not even at a check`);
      now = due;
      await engine.reconcile();
      const attemptReports = reports.all.slice(before).filter((r) => r.role === 'flaky');
      assert.deepEqual(attemptReports[0], { role: 'flaky', version: '1.0.0', generation: desired.generation, state: 'downloading', message: undefined, log: undefined, failures: attempt - 1 });
      assert.deepEqual([reports.last('flaky')?.state, reports.last('flaky')?.failures], ['failed', attempt]);
    }
    assert.deepEqual(delays, [5000, 10_000, 20_000, 20_000], 'doubling, capped');

    await writeFile(join(root, 'fixed'), '');
    now += 1; // the next attempt is 20 s away: only the operator's retry brings it now
    await engine.offer({ ...desired, roles: desired.roles.map((r) => ({ ...r, retry: 1 })) });
    await engine.idle();
    assert.deepEqual([reports.last('flaky')?.state, reports.last('flaky')?.failures], ['applied', 0], 'applied, the count back to 0');
    assert.equal(await failed(), undefined);
    const count = reports.all.length;
    await engine.offer({ ...desired, roles: desired.roles.map((r) => ({ ...r, retry: 2 })) });
    await engine.idle();
    assert.equal(reports.all.length, count, 'a retry token for a role that is applied changes nothing');
  });

  test('a new generation starts counting again', async (t) => {
    const { packages, reports, engine, offer } = await setup(10_000, { retryInitialMs: 60_000 });
    t.after(() => engine.stop());
    const bad = await packages.add(fileRole('bad', '1.0.0', { configure: 'exit 1' }));
    await offer([bad]);
    assert.equal(reports.last('bad')?.failures, 1);
    await offer([{ ...bad, config: { other: true } }]);
    assert.deepEqual([reports.last('bad')?.state, reports.last('bad')?.failures], ['failed', 1]);
  });
});

describe('RoleStateStore', () => {
  test('concurrent saves all succeed and the last one wins', async () => {
    const root = await tempDir('state');
    const store = new RoleStateStore(join(root, 'state.json'));
    const base = await store.load();
    await Promise.all([...Array(20).keys()].map((i) => store.save({ ...base, desiredGeneration: i })));
    assert.equal((await store.load()).desiredGeneration, 19);
  });
});
