import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHIPPED_PHASES_DIR } from '../../services/nodelet/nodelet.paths';
import { etcdctl, startEtcd, type TestEtcd } from '../support/etcd';
import { tempDir } from '../support/fixtures';
import { NodeletWorld, processRunning } from '../support/nodelet-fixtures';
import { freePort } from '../support/processes';
import { waitFor } from '../support/wait';

// etcd as it really runs here (Debian's etcd-server and etcd-client), started by the
// shipped phases or by the test on free loopback ports, never as a system service.

const etcds: TestEtcd[] = [];
const worlds: NodeletWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.stopAll();
  for (const e of etcds.splice(0)) await e.stop();
});
after(async () => {
  for (const e of etcds) await e.stop();
});

const SNAPSHOT = /^etcd-snapshot-\d{8}T\d{6}\.\d{3}Z\.db$/;

async function etcd(name = 'test'): Promise<TestEtcd> {
  const e = await startEtcd(join(await tempDir('etcd'), 'data'), name);
  etcds.push(e);
  return e;
}

async function snapshots(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => SNAPSHOT.test(n)).sort();
}

describe('the shipped etcd phases (50 configure, 55 start)', () => {
  test('configure writes etcd.conf.yml from kube.env, start runs etcd healthy, status asks its health endpoint; an etcd that dies is found and started again', async () => {
    const w = await NodeletWorld.create([], 'nodelet-etcd-phases');
    worlds.push(w);
    for (const file of ['050-etcd-configure.sh', '055-etcd-start.sh', 'lib']) await symlink(join(SHIPPED_PHASES_DIR, file), join(w.phasesDir, file));
    const client = await freePort();
    await w.config(w.baseConfig({ ETCD_CLIENT_PORT: client, ETCD_PEER_PORT: await freePort(), ETCD_NAME: 'm1', STATUS_TIMEOUT: 10 }));
    w.start();
    try {
      await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok', 60_000);
      const conf = await readFile(join(w.root, 'etc/pf9/kube.d/etcd/etcd.conf.yml'), 'utf8');
      assert.match(conf, new RegExp(`listen-client-urls: 'http://127\\.0\\.0\\.1:${client}'`));
      assert.match(conf, /name: 'm1'/);
      assert.match(conf, /initial-cluster-token: 'pf9-c1'/);
      const endpoint = `http://127.0.0.1:${client}`;
      assert.equal((await (await fetch(`${endpoint}/health`)).json() as { health: string }).health, 'true');
      await etcdctl(endpoint, 'put', '/pf9/probe', 'here');
      assert.equal(await readFile(join(w.root, 'var/opt/pf9/etcd_version'), 'utf8'), `${(await (await fetch(`${endpoint}/version`)).json() as { etcdserver: string }).etcdserver}\n`);

      const pid = Number(await readFile(join(w.root, 'var/run/pf9/pf9-etcd.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      await waitFor('etcd dead', () => !processRunning(pid));
      await w.waitStatus('etcd\'s check failed', (s) => s.last_failed_status_check === 'etcd-start', 15_000);
      await w.waitStatus('ok again', (s) => s.pf9_kube_node_state === 'ok' && s.current_task === '', 60_000);
      const again = Number(await readFile(join(w.root, 'var/run/pf9/pf9-etcd.pid'), 'utf8'));
      assert.notEqual(again, pid);
      assert.equal((await etcdctl(endpoint, 'get', '/pf9/probe', '--print-value-only')).trim(), 'here', 'the data survived');
    } finally {
      await w.cli(['phases', 'stop', '--force']);
    }
    const pid = Number(await readFile(join(w.root, 'var/run/pf9/pf9-etcd.pid'), 'utf8').catch(() => '0'));
    assert.ok(pid === 0 || !processRunning(pid), 'phases stop stopped etcd');
  });
});

describe('etcd backups', () => {
  test('keys written, a snapshot taken and verified (nodeletd etcd-backup now), restored into a fresh etcd (nodeletd etcd-backup restore): the keys are there', async () => {
    const source = await etcd('source');
    for (let i = 0; i < 20; i++) await etcdctl(source.endpoint, 'put', `/registry/k${i}`, `value-${i}`);
    const w = await NodeletWorld.create([], 'nodelet-backup');
    worlds.push(w);
    const dir = join(w.root, 'backups');
    await w.config({ ETCD_BACKUP_ENDPOINT: source.endpoint, ETCD_BACKUP_DIR: dir, PHASES_DIR: w.phasesDir });
    const now = await w.cli(['etcd-backup', 'now']);
    assert.equal(now.code, 0, now.stderr);
    const [file] = await snapshots(dir);
    assert.ok(file, 'a snapshot named by its time');
    assert.match(now.stdout, new RegExp(`snapshot ${join(dir, file).replace(/[.]/g, '\\.')} \\(\\d+ bytes, revision 21\\) taken and verified`));
    assert.equal((await stat(join(dir, file))).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).filter((n) => !SNAPSHOT.test(n)), [], 'no temporary or scratch files left');

    const restored = join(await tempDir('etcd-restored'), 'data');
    const restore = await w.cli(['etcd-backup', 'restore', join(dir, file), '--data-dir', restored, '--name', 'fresh', '--peer-url', 'http://127.0.0.1:2380']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual((await readdir(join(restored, '..'))).filter((n) => n.includes('restoring')), [], 'the temporary folder was renamed into place');
    const again = await w.cli(['etcd-backup', 'restore', join(dir, file), '--data-dir', restored]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists: restore into a folder that does not exist yet/);

    const fresh = await startEtcd(restored, 'fresh');
    etcds.push(fresh);
    assert.equal((await etcdctl(fresh.endpoint, 'get', '/registry/k7', '--print-value-only')).trim(), 'value-7');
    assert.equal((await etcdctl(fresh.endpoint, 'get', '/registry/', '--prefix', '--keys-only')).split('\n').filter((l) => l !== '').length, 20);
  });

  test('ETCD_BACKUP_ENABLED: nodelet takes snapshots as its own job; older ones pruned to ETCD_BACKUP_KEEP once the new one verifies; a failure keeps the last good one; the last success is in the status file', async () => {
    const source = await etcd('scheduled');
    await etcdctl(source.endpoint, 'put', '/a', '1');
    const w = await NodeletWorld.create([[10, 'alpha']], 'nodelet-backup-job');
    worlds.push(w);
    const dir = join(w.root, 'etc/pf9/etcd-backup');
    await w.config(w.baseConfig({ ETCD_BACKUP_ENABLED: true, ETCD_BACKUP_ENDPOINT: source.endpoint, ETCD_BACKUP_KEEP: 2, ETCD_BACKUP_INTERVAL_MINS: 60 }));
    w.start();
    const first = await w.waitStatus('the first backup (none was taken before: due at once)', (s) => s.etcd_backup?.last_success_at !== undefined, 30_000);
    assert.equal(first.etcd_backup?.stale, false);
    assert.equal(first.etcd_backup?.expected_interval_s, 3600);
    assert.ok((first.etcd_backup?.last_success_size_bytes ?? 0) > 0);
    assert.equal((await snapshots(dir)).length, 1);

    for (const value of ['2', '3']) {
      await etcdctl(source.endpoint, 'put', '/a', value);
      assert.equal((await w.cli(['etcd-backup', 'now'])).code, 0);
    }
    const kept = await snapshots(dir);
    assert.equal(kept.length, 2, 'pruned to ETCD_BACKUP_KEEP');
    const status = await w.waitStatus('the newest in the status file', (s) => s.etcd_backup?.last_success_file === join(dir, kept[1]));
    assert.equal(status.etcd_backup?.last_success_revision, 4);

    await source.stop();
    const failed = await w.cli(['etcd-backup', 'now']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /etcdctl endpoint health \(http:\/\/127\.0\.0\.1:\d+\)/);
    assert.deepEqual(await snapshots(dir), kept, 'a failed backup deletes nothing');
    const after = await w.waitStatus('the failure recorded', (s) => s.etcd_backup?.last_error !== undefined);
    assert.equal(after.etcd_backup?.last_success_file, join(dir, kept[1]), 'the last success stays the last good one');
  });

  test('before an etcd version change a snapshot is taken; the change is held while etcd answers and the snapshot fails', async () => {
    const source = await etcd('versioned');
    await etcdctl(source.endpoint, 'put', '/v', '1');
    const w = await NodeletWorld.create([[10, 'alpha']], 'nodelet-etcd-version');
    worlds.push(w);
    const dir = join(w.root, 'etc/pf9/etcd-backup');
    await w.config(w.baseConfig({ ETCD_VERSION: '3.4.23', ETCD_BACKUP_ENDPOINT: source.endpoint }));
    const proc = w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    assert.deepEqual(await snapshots(dir), []);

    await w.config(w.baseConfig({ ETCD_VERSION: '3.5.9', ETCD_BACKUP_ENDPOINT: source.endpoint }));
    await waitFor('kube.env with the new version', async () => /ETCD_VERSION="3\.5\.9"/.test(await readFile(join(w.root, 'etc/pf9/kube.env'), 'utf8')));
    const [snapshot] = await snapshots(dir);
    assert.ok(snapshot, 'a snapshot before the change');
    assert.ok((await stat(join(dir, snapshot))).mtimeMs <= (await stat(join(w.root, 'etc/pf9/kube.env'))).mtimeMs, 'taken before the new configuration was written');
    assert.match(proc.stdout, /etcd version changes: taking a snapshot first.*"from":"3\.4\.23","to":"3\.5\.9"/);

    // A snapshot that cannot be written (the backup folder is a file) while etcd answers: held.
    const blocked = join(w.root, 'not-a-folder');
    await writeFile(blocked, 'x');
    await w.config(w.baseConfig({ ETCD_VERSION: '3.5.9', ETCD_BACKUP_ENDPOINT: source.endpoint, ETCD_BACKUP_DIR: join(blocked, 'backups') }));
    await waitFor('the backup folder applied', async () => (await readFile(join(w.root, 'etc/pf9/kube.env'), 'utf8')).includes(blocked));
    await w.config(w.baseConfig({ ETCD_VERSION: '3.6.0', ETCD_BACKUP_ENDPOINT: source.endpoint, ETCD_BACKUP_DIR: join(blocked, 'backups') }));
    const held = await w.waitStatus('the change held', (s) => /etcd version change from 3\.5\.9 to 3\.6\.0 held: the snapshot before it failed/.test(String(s.nodelet_config_error)));
    assert.ok(held);
    assert.match(await readFile(join(w.root, 'etc/pf9/kube.env'), 'utf8'), /ETCD_VERSION="3\.5\.9"/, 'kube.env keeps the version that runs');

    // etcd gone: nothing to snapshot, the change goes ahead (and says so).
    await source.stop();
    await w.config(w.baseConfig({ ETCD_VERSION: '3.6.1', ETCD_BACKUP_ENDPOINT: source.endpoint, ETCD_BACKUP_DIR: join(blocked, 'backups') }));
    await waitFor('kube.env with 3.6.1', async () => /ETCD_VERSION="3\.6\.1"/.test(await readFile(join(w.root, 'etc/pf9/kube.env'), 'utf8')));
    assert.match(proc.stdout, /etcd does not answer: the version change goes ahead without a snapshot/);
    assert.equal(existsSync(join(blocked, 'backups')), false);
  });
});
