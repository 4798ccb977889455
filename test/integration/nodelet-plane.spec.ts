import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostDetailView } from '#contracts';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { emptyStatus, type KubeStatus } from '../../libs/kube-status';
import { heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl, databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

// nodelet's state reaches the plane: nodelet.status on pf9.events (host.<hostId>.nodelet),
// kept by the role store, shown as `nodelet` in GET /v1/hosts/:id.

async function host(plane: AuthenticatedPlane, id: string): Promise<HostDetailView> {
  const res = await planeFetch(plane, `${plane.url}/v1/hosts/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as HostDetailView;
}

function event(hostId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostId,
    sentAt: new Date().toISOString(),
    state: 'retrying',
    clusterId: 'c1',
    role: 'master',
    attempt: 2,
    phases: [
      { order: 20, name: 'certificates', state: 'running', message: '', attempts: 1 },
      { order: 55, name: 'etcd-start', state: 'failed', message: 'etcd: etcd exited', attempts: 2 },
    ],
    ...overrides,
  };
}

for (const kind of DATABASE_KINDS) {
  describe(`nodelet.status in the role store on ${kind}`, () => {
    let rs: RunningRolestore;
    let raw: RawAmqp;
    let dead: Capture;

    before(async () => {
      raw = await RawAmqp.open();
      await raw.purge('pf9.rolestore.events');
      const dataDir = await tempDir(`nodelet-plane-${kind}`);
      rs = await startRolestore(
        { AMQP_URL: brokerUrl(), DATABASE_URL: databaseUrlFor(kind, dataDir), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
        { waitForBrokerMs: 15_000 },
      );
      dead = await raw.capture('pf9.dlx', '');
    });

    after(async () => {
      await rs?.close();
      await raw?.close();
    });

    const send = (routingHost: string, body: Record<string, unknown>) =>
      raw.publish('pf9.events', `host.${routingHost}.nodelet`, body, { type: 'nodelet.status', contentType: 'application/json', messageId: randomUUID() });

    async function knownHost(): Promise<string> {
      const hostId = newHostId();
      await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat', contentType: 'application/json', messageId: randomUUID() });
      await waitFor('the host', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).ok);
      return hostId;
    }

    test('kept and shown as {state, clusterId, role, attempt, phases} in GET /v1/hosts/:id; an older one changes nothing; none forgets it', async () => {
      const hostId = await knownHost();
      assert.equal((await host(rs, hostId)).nodelet, null, 'null before the first');
      const first = new Date(Date.now() - 60_000).toISOString();
      await send(hostId, event(hostId, { sentAt: first }));
      const seen = await waitFor('the nodelet view', async () => (await host(rs, hostId)).nodelet ?? undefined);
      assert.deepEqual(
        { state: seen.state, clusterId: seen.clusterId, role: seen.role, attempt: seen.attempt, phases: seen.phases },
        {
          state: 'retrying',
          clusterId: 'c1',
          role: 'master',
          attempt: 2,
          phases: [
            { order: 20, name: 'certificates', state: 'running', message: '', attempts: 1 },
            { order: 55, name: 'etcd-start', state: 'failed', message: 'etcd: etcd exited', attempts: 2 },
          ],
        },
      );
      assert.equal(seen.reportedAt, first);

      const now = new Date().toISOString();
      await send(hostId, event(hostId, { sentAt: now, state: 'ok', attempt: 0 }));
      await waitFor('ok', async () => (await host(rs, hostId)).nodelet?.state === 'ok');
      await send(hostId, event(hostId, { sentAt: first, state: 'failed', attempt: 11 }));
      await send(hostId, event(hostId, { sentAt: now, state: 'ok', attempt: 0, clusterId: 'marker' }));
      await waitFor('the marker', async () => (await host(rs, hostId)).nodelet?.clusterId === 'marker');
      assert.equal((await host(rs, hostId)).nodelet?.state, 'ok', 'the older report did not win');

      await send(hostId, event(hostId, { sentAt: new Date(Date.now() + 1000).toISOString(), state: 'none', role: 'none', clusterId: '', attempt: 0, phases: [] }));
      await waitFor('forgotten', async () => (await host(rs, hostId)).nodelet === null);
    });

    test('a stale etcd backup shows as a warning, judged when asked', async () => {
      const hostId = await knownHost();
      const old = new Date(Date.now() - 3 * 3600_000).toISOString();
      await send(hostId, event(hostId, { state: 'ok', attempt: 0, etcdBackup: { lastSuccessAt: old, sizeBytes: 2048, revision: 99, expectedIntervalS: 3600 } }));
      const view = await waitFor('the backup', async () => (await host(rs, hostId)).nodelet?.etcdBackup ?? undefined);
      assert.equal(view.stale, true);
      assert.equal(view.revision, 99);
      assert.match(String(view.warning), /more than twice the expected 3600 s ago/);
      await send(hostId, event(hostId, { state: 'ok', attempt: 0, sentAt: new Date(Date.now() + 1000).toISOString(), etcdBackup: { lastSuccessAt: new Date().toISOString(), sizeBytes: 2048, revision: 100, expectedIntervalS: 3600 } }));
      await waitFor('fresh', async () => (await host(rs, hostId)).nodelet?.etcdBackup?.stale === false);
      assert.equal((await host(rs, hostId)).nodelet?.etcdBackup?.warning, null);
    });

    test('a host speaks only for itself (refused, not kept), and a body that fails validation is dead-lettered', async () => {
      const hostId = await knownHost();
      const other = await knownHost();
      await send(hostId, event(other, { clusterId: 'forged' }));
      await send(hostId, event(hostId, { state: 'exploded' }));
      const invalid = await dead.next((m) => m.routingKey === `host.${hostId}.nodelet` && (m.body as { state: string }).state === 'exploded');
      assert.match(String(invalid.properties.headers?.['x-pf9-error']), /state/);
      await send(hostId, event(hostId, { phases: Array.from({ length: 300 }, (_, i) => ({ order: i, name: 'p', state: 'running', message: '', attempts: 0 })) }));
      await dead.next((m) => m.routingKey === `host.${hostId}.nodelet` && (m.body as { phases: unknown[] }).phases.length === 300);
      await send(hostId, event(hostId, { clusterId: 'honest' }));
      await waitFor('the honest report, sent after the others', async () => (await host(rs, hostId)).nodelet?.clusterId === 'honest');
      assert.equal((await host(rs, other)).nodelet, null, 'the forged report was not kept');
    });
  });
}

describe('the host agent tells the plane what nodelet\'s status file says', () => {
  let rs: RunningRolestore;
  let agent: RunningHostagent;
  let root: string;

  before(async () => {
    const raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.events');
    await raw.close();
    const dataDir = await tempDir('nodelet-agent-plane');
    root = await tempDir('nodelet-agent-host');
    rs = await startRolestore({ AMQP_URL: brokerUrl(), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' }, { waitForBrokerMs: 15_000 });
    agent = await startHostagent({ AMQP_URL: brokerUrl(), PF9_API_URL: rs.hostApiUrl, PF9_ROOT: root, PF9_HEARTBEAT_INTERVAL_S: '1', PF9_AGENT_METRICS_PORT: '0', PF9_LOG_LEVEL: 'error' });
  });

  after(async () => {
    await agent?.close();
    await rs?.close();
  });

  test('on change, at most once per LOOP_INTERVAL; a removed status file clears the plane\'s view', async () => {
    const id = agent.hostId;
    await waitFor('the host', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${id}`)).ok);
    const file = join(root, 'var/opt/pf9/kube_status');
    await mkdir(join(root, 'var/opt/pf9'), { recursive: true });
    const status = (over: Partial<KubeStatus>): string =>
      JSON.stringify({
        ...emptyStatus(),
        pf9_kube_node_state: 'converging',
        pf9_kube_start_attempt: 1,
        pf9_cluster_id: 'c7',
        pf9_cluster_role: 'worker',
        phases: [{ order: 10, name: 'alpha', state: 'executing', message: '', attempts: 1 }],
        nodelet_loop_interval_s: 2,
        ...over,
      });
    await writeFile(file, status({}));
    const first = await waitFor('the first report', async () => (await host(rs, id)).nodelet ?? undefined);
    assert.equal(first.state, 'converging');
    assert.equal(first.role, 'worker');
    const firstAt = Date.parse(first.reportedAt);
    await writeFile(file, status({ pf9_kube_node_state: 'retrying', pf9_kube_start_attempt: 2 }));
    await writeFile(file, status({ pf9_kube_node_state: 'ok', pf9_kube_start_attempt: 0, phases: [{ order: 10, name: 'alpha', state: 'running', message: '', attempts: 1 }] }));
    const ok = await waitFor('the last state of the burst', async () => {
      const n = (await host(rs, id)).nodelet;
      return n?.state === 'ok' ? n : undefined;
    });
    assert.ok(Date.parse(ok.reportedAt) - firstAt >= 1900, 'not sooner than LOOP_INTERVAL after the one before');
    await rm(file);
    await waitFor('the view cleared', async () => (await host(rs, id)).nodelet === null, { timeoutMs: 10_000 });
  });
});
