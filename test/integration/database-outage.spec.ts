import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { CuttableProxy } from '../support/tcp-proxy';
import { brokerUrl, isolatedPostgresUrl } from '../support/test-env';
import { buildRole, fileRole, heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { waitFor } from '../support/wait';
import { planeFetch } from '../support/operator-auth';

interface RoleView {
  name: string;
  state: string;
  appliedGeneration: number | null;
  message: string | null;
}

/** How long the database stays away: many times what a retry-once consumer takes to dead-letter a message. */
const AWAY_MS = 8000;

// The shared PostgreSQL is never stopped: a proxy between the role store and it plays a
// database that is stopped (connections refused and reset) or that hangs (nothing answers).
describe('the role store while PostgreSQL is away', () => {
  let rs: RunningRolestore;
  let raw: RawAmqp;
  let proxy: CuttableProxy;
  /** Between the role store and the broker, so that the broker too can go away without being stopped. */
  let brokerProxy: CuttableProxy;
  let dead: Capture;
  let hostId: string;
  /** Known to the plane, not yet authorized: authorized by a command sent while the database is away. */
  let otherHost: string;
  let generation: number;
  const role = `db-${randomUUID().slice(0, 8)}`;

  const get = (path: string, timeoutMs = 10_000) => planeFetch(rs, `${rs.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const roleView = async (): Promise<RoleView | undefined> => {
    const res = await get(`/v1/hosts/${hostId}`);
    if (res.status !== 200) return undefined;
    return ((await res.json()) as { roles: RoleView[] }).roles.find((r) => r.name === role);
  };
  const report = (state: string, messageId: string, message: string) =>
    raw.publish('pf9.events', `host.${hostId}.role-status`, { hostId, role, version: '1.0.0', generation, state, message }, { type: 'role.status', contentType: 'application/json', messageId, persistent: true });
  const heartbeat = (id: string, messageId: string) =>
    raw.publish('pf9.events', `host.${id}.heartbeat`, heartbeatBody(id), { type: 'host.heartbeat', contentType: 'application/json', messageId });
  /** Keeps the database away for AWAY_MS, checking all along that the role store says so and dead-letters nothing. */
  const holdAway = async (ids: string[]): Promise<void> => {
    const until = Date.now() + AWAY_MS;
    await waitFor(
      `${AWAY_MS} ms with the database away`,
      async () => {
        const health = await get('/healthz', 5000);
        assert.equal(health.status, 503);
        assert.equal(dead.messages.filter((m) => ids.includes(String(m.properties.messageId))).length, 0, 'nothing dead-lettered while the database is away');
        return Date.now() >= until;
      },
      { timeoutMs: AWAY_MS + 10_000, intervalMs: 500 },
    );
  };

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    const database = new URL(isolatedPostgresUrl());
    proxy = new CuttableProxy(database.hostname, Number(database.port || 5432));
    database.hostname = '127.0.0.1';
    database.port = String(await proxy.start());
    const dataDir = await tempDir('db-outage');
    const broker = new URL(brokerUrl());
    brokerProxy = new CuttableProxy(broker.hostname, Number(broker.port || 5672));
    broker.hostname = '127.0.0.1';
    broker.port = String(await brokerProxy.start());
    rs = await startRolestore(
      { AMQP_URL: broker.toString(), DATABASE_URL: database.toString(), PF9_DATABASE_TIMEOUT_S: '1', PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
    dead = await raw.capture('pf9.dlx', '');
    hostId = newHostId();
    await heartbeat(hostId, randomUUID());
    otherHost = newHostId();
    await heartbeat(otherHost, randomUUID());
    await waitFor('the hosts', async () => (await get(`/v1/hosts/${hostId}`)).status === 200 && (await get(`/v1/hosts/${otherHost}`)).status === 200);
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/authorize`, { method: 'POST' })).status, 200);
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole(role, '1.0.0')) });
    assert.equal(upload.status, 201);
    const assigned = await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/roles/${role}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    generation = ((await assigned.json()) as { generation: number }).generation;
  });

  after(async () => {
    await proxy?.restore();
    await brokerProxy?.restore();
    await rs?.close();
    await proxy?.cut();
    await brokerProxy?.cut();
    await raw?.close();
  });

  test('stopped: REST answers 503, /healthz names the database, and reports, commands and heartbeats wait and are applied once it is back', async () => {
    await proxy.cut();
    const refused = await get(`/v1/hosts/${hostId}`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'INTERNAL');
    assert.match(body.error.message, /database is unavailable/);
    const health = await get('/healthz');
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { status: 'unavailable', database: 'down', broker: 'ok' });

    const reportId = randomUUID();
    await report('applied', reportId, 'applied while the database was away');
    const newHost = newHostId();
    const heartbeatId = randomUUID();
    await heartbeat(newHost, heartbeatId);
    const commandId = randomUUID();
    const reply = raw.request('host.authorize', { hostId: otherHost }, { type: 'host.authorize', messageId: commandId }, AWAY_MS + 30_000);
    await holdAway([reportId, heartbeatId, commandId]);
    await proxy.restore();

    const applied = await waitFor('the report applied once the database is back', async () => {
      const view = await roleView();
      return view?.state === 'applied' ? view : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(applied.appliedGeneration, generation);
    assert.equal(applied.message, 'applied while the database was away');
    assert.deepEqual((await reply).body, { ok: true, result: { hostId: otherHost, state: 'authorized' } });
    await waitFor('the heartbeat recorded', async () => (await get(`/v1/hosts/${newHost}`)).status === 200);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal(dead.messages.filter((m) => [reportId, heartbeatId, commandId].some((id) => id === m.properties.messageId)).length, 0, 'nothing dead-lettered');
    const metrics = await (await get('/metrics')).text();
    assert.match(metrics, /hostplane_amqp_messages_held_total\{kind="role.status"\} [1-9]/);
  });

  test('hanging: REST and /healthz answer 503 within seconds, and a report waits and is applied once it answers again', async () => {
    proxy.stall();
    const started = Date.now();
    const refused = await get(`/v1/hosts/${hostId}`, 8000);
    assert.equal(refused.status, 503, 'a request does not hang with the database');
    assert.ok(Date.now() - started < 6000, `answered after ${Date.now() - started} ms`);
    const healthStarted = Date.now();
    const health = await get('/healthz', 8000);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { database: string }).database, 'down');
    assert.ok(Date.now() - healthStarted < 4000, `/healthz answered after ${Date.now() - healthStarted} ms`);

    const reportId = randomUUID();
    await report('failed', reportId, 'reported while the database hung');
    await holdAway([reportId]);
    await proxy.restore();
    await waitFor('the report applied once the database answers', async () => (await roleView())?.message === 'reported while the database hung', { timeoutMs: 30_000 });
    assert.equal((await get('/healthz')).status, 200);
    assert.equal(dead.messages.filter((m) => m.properties.messageId === reportId).length, 0, 'nothing dead-lettered');
  });

  test('the broker away: /healthz names it, and the REST API still answers from the database', async () => {
    await brokerProxy.cut();
    const health = await waitFor('/healthz to see the broker gone', async () => {
      const res = await get('/healthz');
      return res.status === 503 ? ((await res.json()) as Record<string, string>) : undefined;
    });
    assert.deepEqual(health, { status: 'unavailable', database: 'ok', broker: 'down' });
    assert.equal((await get(`/v1/hosts/${hostId}`)).status, 200);
    await brokerProxy.restore();
    await waitFor('the role store back on the broker', async () => (await get('/healthz')).status === 200, { timeoutMs: 60_000 });
  });
});
