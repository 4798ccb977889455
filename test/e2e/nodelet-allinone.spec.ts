import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HostDetailView } from '#contracts';
import { tempDir } from '../support/fixtures';
import { processRunning } from '../support/nodelet-fixtures';
import { cli, DIST, freePort, Proc, REPO_ROOT } from '../support/processes';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

// The all-in-one with nodelet running as part of its host: the pf9-kube role assigned with
// ROLE master, the demo phases (the shipped ones where they run on this machine: certificates,
// kubeconfigs, etcd from Debian's packages, CNI, ...; stand-ins for the Kubernetes binaries).

describe('npm start with nodelet: a master through the pf9-kube role', () => {
  let proc: Proc;
  let api = '';
  let cwd = '';
  let hostId = '';
  let hostRoot = '';
  let etcdPort = 0;

  before(async () => {
    const raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    await raw.close();
    cwd = await tempDir('allinone-nodelet');
    hostRoot = join(cwd, '.data/host');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AMQP_URL: brokerUrl(),
      PF9_API_PORT: String(await freePort()),
      PF9_AGENT_METRICS_PORT: String(await freePort()),
      PF9_JOIN_PORT: String(await freePort()),
      PF9_HOST_API_PORT: String(await freePort()),
      PF9_INGRESS_PORT: String(await freePort()),
      PF9_INGRESS_ADMIN_PORT: String(await freePort()),
      PF9_COMMS_AMQP_PORT: String(await freePort()),
      PF9_COMMS_HTTP_PORT: String(await freePort()),
      PF9_COMMS_JOIN_PORT: String(await freePort()),
      PF9_COMMS_ADMIN_PORT: String(await freePort()),
      PF9_NODELET_ADMIN_PORT: String(await freePort()),
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '2',
    };
    delete env.DATABASE_URL;
    etcdPort = await freePort();
    proc = new Proc(join(DIST, 'services/allinone/main.js'), env, cwd);
    const ready = await proc.line(/^hostplane ready: api=(\S+) host=(\S+)$/m, 60_000);
    api = ready[1]!;
    hostId = ready[2]!;
  });

  after(async () => {
    proc?.kill('SIGINT');
    await proc?.exit(20_000).catch(() => proc.kill('SIGKILL'));
    // Whatever the phases started must not outlive the test.
    const pid = Number(await readFile(join(hostRoot, 'var/run/pf9/pf9-etcd.pid'), 'utf8').catch(() => '0'));
    if (pid > 0 && processRunning(pid)) process.kill(pid, 'SIGKILL');
  });

  const show = async (): Promise<HostDetailView> => JSON.parse((await cli({ api, cwd }, '--json', 'hosts', 'show', hostId)).stdout) as HostDetailView;
  const nodeletd = (...args: string[]) =>
    promisify(execFile)(join(hostRoot, 'opt/pf9/hostplane/bin/nodeletd'), args, { env: { PATH: process.env.PATH, PF9_ROOT: hostRoot } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );

  const config = () => ({
    ROLE: 'master',
    CLUSTER_ID: 'demo',
    KUBE_SERVICE_STATE: 'true',
    PHASES_DIR: join(REPO_ROOT, 'examples/nodelet-demo-phases'),
    LOOP_INTERVAL: 2,
    ETCD_CLIENT_PORT: etcdPort,
    ETCD_PEER_PORT: etcdPort + 1 <= 65535 ? etcdPort + 1 : etcdPort - 1,
    ETCD_BACKUP_ENABLED: true,
    ETCD_BACKUP_ENDPOINT: `http://127.0.0.1:${etcdPort}`,
    ETCD_BACKUP_INTERVAL_MINS: 60,
  });

  test('assigned to the all-in-one\'s host, nodelet brings the master up; the plane shows it; nodeletd phases status says so', async () => {
    assert.equal((await cli({ api, cwd }, 'authorize', hostId)).code, 0);
    const upload = await cli({ api, cwd }, 'roles', 'upload', join(REPO_ROOT, 'examples/roles/pf9-kube'));
    assert.equal(upload.code, 0, upload.stderr);
    const assign = await cli({ api, cwd }, 'role', 'assign', hostId, 'pf9-kube', '--config', JSON.stringify(config()));
    assert.equal(assign.code, 0, assign.stderr);
    await waitFor('pf9-kube applied', async () => (await show()).roles.find((r) => r.name === 'pf9-kube')?.state === 'applied', { timeoutMs: 90_000 });
    const nodelet = await waitFor('the plane to see the node ok', async () => {
      const n = (await show()).nodelet;
      return n?.state === 'ok' ? n : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(nodelet.role, 'master');
    assert.equal(nodelet.clusterId, 'demo');
    assert.equal(nodelet.attempt, 0);
    assert.deepEqual(nodelet.phases.map((p) => p.order), [20, 30, 40, 45, 48, 50, 55, 60, 65, 70, 75, 80, 90, 100, 110, 120, 130, 160, 180, 206, 210]);
    assert.ok(nodelet.phases.every((p) => p.state === 'running'));
    await waitFor('the first etcd backup reported', async () => (await show()).nodelet?.etcdBackup?.lastSuccessAt ?? undefined, { timeoutMs: 30_000 });

    const shown = await cli({ api, cwd }, 'hosts', 'show', hostId);
    assert.match(shown.stdout, /^Nodelet: +ok \(master, cluster demo, attempt 0\)/m);
    assert.match(shown.stdout, /^55 +etcd-start +running/m);

    const status = await nodeletd('phases', 'status');
    assert.equal(status.code, 0, status.stderr);
    process.stdout.write(`# nodeletd phases status, a master in the all-in-one:\n${status.stdout.replace(/^/gm, '#   ')}\n`);
    assert.match(status.stdout, /^Node state: ok\s+service: running\s+role: master\s+cluster: demo/);
    assert.match(status.stdout, /Platform9 Kubernetes stack is running\n$/);
    assert.equal((await (await fetch(`http://127.0.0.1:${etcdPort}/health`)).json() as { health: string }).health, 'true', 'etcd really runs');
  });

  test('a hand edit of the role\'s YAML is put back by the host agent; an etcd that dies is started again by nodelet', async () => {
    const file = join(hostRoot, 'etc/pf9/nodelet/10-role.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('CLUSTER_ID: demo', 'CLUSTER_ID: hijacked'));
    await waitFor('the YAML put back', async () => /CLUSTER_ID: demo/.test(await readFile(file, 'utf8')), { timeoutMs: 30_000 });

    const pid = Number(await readFile(join(hostRoot, 'var/run/pf9/pf9-etcd.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await waitFor('etcd started again', async () => {
      const again = Number(await readFile(join(hostRoot, 'var/run/pf9/pf9-etcd.pid'), 'utf8').catch(() => '0'));
      return again !== pid && processRunning(again) && (await fetch(`http://127.0.0.1:${etcdPort}/health`).then((r) => r.ok, () => false));
    }, { timeoutMs: 60_000 });
    await waitFor('ok in the plane', async () => (await show()).nodelet?.state === 'ok', { timeoutMs: 30_000 });
  });

  test('unassign stops every phase in reverse and removes nodelet\'s state; the plane forgets it', async () => {
    const pid = Number(await readFile(join(hostRoot, 'var/run/pf9/pf9-etcd.pid'), 'utf8'));
    assert.equal((await cli({ api, cwd }, 'role', 'unassign', hostId, 'pf9-kube')).code, 0);
    await waitFor('the role gone', async () => (await show()).roles.length === 0, { timeoutMs: 60_000 });
    assert.equal(processRunning(pid), false, 'etcd stopped');
    for (const gone of ['etc/pf9/nodelet/10-role.yaml', 'var/opt/pf9/kube_status', 'etc/pf9/kube.env']) assert.equal(existsSync(join(hostRoot, gone)), false, `${gone} removed`);
    assert.ok(existsSync(join(hostRoot, 'etc/pf9/etcd-backup')), 'etcd backups are kept');
    await waitFor('the plane forgets nodelet\'s state', async () => (await show()).nodelet === null, { timeoutMs: 30_000 });
  });
});
