import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { HOST_DESIRED_STATE, MAX_BODY_BYTES, Queues, type HostDesiredStateControl } from '#contracts';
import { AmqpConnection, declareHostQueue, MessageConsumer } from '#amqp';
import { Logger } from '#logging';
import { paxHeaderBomb, VALID_MANIFEST, validRoleEntries } from '../../libs/role-package/raw-tar.fixtures';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl, databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { buildRole, fileRole, heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { waitFor } from '../support/wait';
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

interface HttpAnswer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** A request to the plane's REST API as its admin (a bare URL: as nobody). */
async function http(plane: AuthenticatedPlane | string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<HttpAnswer> {
  const init: RequestInit = { method, headers: {} };
  if (body !== undefined) {
    init.body = Buffer.isBuffer(body) ? body : typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': contentType };
  }
  const res = typeof plane === 'string' ? await fetch(plane + path, init) : await planeFetch(plane, plane.url + path, init);
  const text = Buffer.from(await res.arrayBuffer());
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, body: isJson ? JSON.parse(text.toString('utf8')) : text, headers: res.headers };
}

function errorCode(answer: HttpAnswer): string {
  return (answer.body as { error: { code: string } }).error.code;
}

for (const kind of DATABASE_KINDS) {
  describe(`role store on ${kind}`, () => {
    let rs: RunningRolestore;
    let raw: RawAmqp;
    let control: Capture;
    let dead: Capture;

    before(async () => {
      raw = await RawAmqp.open();
      await raw.purge('pf9.rolestore.api');
      await raw.purge('pf9.rolestore.events');
      const dataDir = await tempDir(`rolestore-${kind}`);
      rs = await startRolestore(
        {
          AMQP_URL: brokerUrl(),
          DATABASE_URL: databaseUrlFor(kind, dataDir),
          PF9_DATA_DIR: dataDir,
          PF9_API_PORT: '0',
          PF9_HOST_OFFLINE_AFTER_S: '2',
          // The hosts here are raw clients on the broker user they share with the plane (insecure).
          PF9_HOST_BROKER_USERS: 'off',
          PF9_INSECURE_SHARED_BROKER_USER: 'guest',
          PF9_LOG_LEVEL: 'error',
        },
        { waitForBrokerMs: 15_000 },
      );
      control = await raw.capture('pf9.control', 'host.#');
      dead = await raw.capture('pf9.dlx', '');
    });

    after(async () => {
      await rs?.close();
      await raw?.close();
    });

    async function heartbeat(hostId: string): Promise<void> {
      await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat', contentType: 'application/json', messageId: randomUUID() });
    }

    async function knownHost(): Promise<string> {
      const hostId = newHostId();
      await heartbeat(hostId);
      await waitFor('the host to appear', async () => (await http(rs, 'GET', `/v1/hosts/${hostId}`)).status === 200);
      return hostId;
    }

    async function authorizedHost(): Promise<string> {
      const hostId = await knownHost();
      assert.equal((await http(rs, 'POST', `/v1/hosts/${hostId}/authorize`)).status, 200);
      return hostId;
    }

    async function uploadRole(name: string, version: string): Promise<{ sha256: string; bytes: Buffer }> {
      const bytes = await buildRole(fileRole(name, version));
      const answer = await http(rs, 'POST', '/v1/roles', bytes, 'application/gzip');
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return { sha256: (answer.body as { sha256: string }).sha256, bytes };
    }

    test('a host appears on its first heartbeat: unauthorized, online, with its inventory', async () => {
      const hostId = newHostId();
      await heartbeat(hostId);
      const host = await waitFor('the host', async () => {
        const answer = await http(rs, 'GET', `/v1/hosts/${hostId}`);
        return answer.status === 200 ? (answer.body as Record<string, unknown>) : undefined;
      });
      assert.equal(host.id, hostId);
      assert.equal(host.state, 'unauthorized');
      assert.equal(host.online, true);
      assert.equal(host.hostname, `host-${hostId.slice(0, 8)}`);
      assert.equal(typeof host.lastHeartbeatAt, 'string');
      assert.deepEqual((host.info as { cpu: unknown }).cpu, heartbeatBody(hostId).cpu);
      assert.deepEqual(host.roles, []);
      const list = (await http(rs, 'GET', '/v1/hosts')).body as Array<Record<string, unknown>>;
      const entry = list.find((h) => h.id === hostId);
      assert.deepEqual(Object.keys(entry ?? {}).sort(), ['hostname', 'id', 'lastHeartbeatAt', 'online', 'state']);
    });

    test('a host goes offline once no heartbeat came within the threshold', async () => {
      const hostId = await knownHost();
      await waitFor('the host to go offline', async () => ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { online: boolean }).online === false, { timeoutMs: 6000 });
      await heartbeat(hostId);
      await waitFor('the host to be online again', async () => ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { online: boolean }).online === true);
    });

    test('authorize and deauthorize over REST, each pushing the desired state to the host', async () => {
      const hostId = await knownHost();
      const authorized = await http(rs, 'POST', `/v1/hosts/${hostId}/authorize`);
      assert.deepEqual(authorized, { ...authorized, status: 200, body: { hostId, state: 'authorized' } });
      const pushed = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { state: string }).state === 'authorized');
      assert.equal(pushed.properties.type, 'host.desired-state');
      assert.equal((pushed.body as { generation: number }).generation, 1);
      const deauthorized = await http(rs, 'POST', `/v1/hosts/${hostId}/deauthorize`);
      assert.deepEqual(deauthorized.body, { hostId, state: 'unauthorized' });
      await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { state: string }).state === 'unauthorized');
      assert.equal(errorCode(await http(rs, 'POST', `/v1/hosts/${newHostId()}/authorize`)), 'NOT_FOUND');
      assert.equal((await http(rs, 'POST', `/v1/hosts/bad.host/authorize`)).status, 400);
    });

    test('role packages: upload, list, download the same bytes, 409 on a duplicate, 400 on a bad package', async () => {
      const name = `pkg-${randomUUID().slice(0, 8)}`;
      const { sha256, bytes } = await uploadRole(name, '1.0.0');
      assert.equal(sha256, createHash('sha256').update(bytes).digest('hex'));
      await uploadRole(name, '1.10.0');
      const duplicate = await http(rs, 'POST', '/v1/roles', bytes, 'application/gzip');
      assert.equal(duplicate.status, 409);
      assert.equal(errorCode(duplicate), 'CONFLICT');
      const list = (await http(rs, 'GET', '/v1/roles')).body as Array<{ name: string; versions: Array<{ version: string; sha256: string; uploadedAt: string }> }>;
      const role = list.find((r) => r.name === name);
      assert.deepEqual(role?.versions.map((v) => v.version), ['1.0.0', '1.10.0']);
      assert.equal(role?.versions[0]?.sha256, sha256);
      const download = await http(rs, 'GET', `/v1/roles/${name}/1.0.0/package`);
      assert.equal(download.status, 200);
      assert.equal(download.headers.get('content-type'), 'application/gzip');
      assert.ok(Buffer.isBuffer(download.body) && download.body.equals(bytes));
      assert.equal((await http(rs, 'GET', `/v1/roles/${name}/9.9.9/package`)).status, 404);
      const notGzip = await http(rs, 'POST', '/v1/roles', Buffer.from('plain text, not a package'), 'application/gzip');
      assert.equal(notGzip.status, 400);
      assert.equal(errorCode(notGzip), 'VALIDATION_FAILED');
      const empty = await http(rs, 'POST', '/v1/roles', { name: 'x' });
      assert.equal(empty.status, 400);
    });

    test('a decompression bomb (1.5 MB inflating to 800 MB of pax headers) is refused with 400 VALIDATION_FAILED within seconds, and uploads go on', async () => {
      const name = `bomb-${randomUUID().slice(0, 8)}`;
      const bomb = paxHeaderBomb(validRoleEntries({ ...VALID_MANIFEST, name }));
      const started = performance.now();
      const answer = await http(rs, 'POST', '/v1/roles', bomb.buf, 'application/gzip');
      const elapsedMs = performance.now() - started;
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(errorCode(answer), 'VALIDATION_FAILED');
      assert.match((answer.body as { error: { message: string } }).error.message, /extended headers \(pax, GNU long names\) take more than 16777216 bytes/);
      assert.ok(elapsedMs < 5000, `answered after ${Math.round(elapsedMs)} ms`);
      const list = (await http(rs, 'GET', '/v1/roles')).body as Array<{ name: string }>;
      assert.ok(!list.some((role) => role.name === name), 'nothing of the bomb was kept');
      await uploadRole(`after-${name}`, '1.0.0');
    });

    test('an assignment that would make a desired state larger than a host accepts is refused and changes nothing (REST and pf9.api)', async () => {
      const [big, bigger, small] = ['big', 'bigger', 'small'].map((prefix) => `${prefix}-${randomUUID().slice(0, 8)}`) as [string, string, string];
      for (const name of [big, bigger, small]) await uploadRole(name, '1.0.0');
      const hostId = await authorizedHost();
      const config = { pad: 'p'.repeat(600 * 1024) };
      assert.equal((await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${big}`, { config })).status, 200);

      const refused = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${bigger}`, { config });
      assert.equal(refused.status, 400);
      assert.equal(errorCode(refused), 'VALIDATION_FAILED');
      const message = (refused.body as { error: { message: string } }).error.message;
      assert.match(message, new RegExp(`^host ${hostId}'s desired state would take \\d+ bytes with role ${bigger} \\(whose config takes ${600 * 1024 + 10}\\), more than the ${MAX_BODY_BYTES} a host accepts`));
      const overAmqp = await raw.request('role.assign', { hostId, role: bigger, config }, { type: 'role.assign', messageId: randomUUID() });
      assert.equal((overAmqp.body as { ok: boolean }).ok, false);
      assert.equal((overAmqp.body as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
      assert.match((overAmqp.body as { error: { message: string } }).error.message, /desired state would take \d+ bytes/);

      const roles = ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ name: string; desiredGeneration: number }> }).roles;
      assert.deepEqual(roles.map((r) => [r.name, r.desiredGeneration]), [[big, 2]], 'nothing of the refused assignments was kept');
      const next = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${small}`, { config: { a: 1 } });
      assert.equal((next.body as { generation: number }).generation, 3, 'the refusals did not raise the generation');
      await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { generation: number }).generation === 3);
      const sent = control.messages.filter((m) => m.routingKey === `host.${hostId}.desired-state`).map((m) => (m.body as { generation: number }).generation);
      assert.deepEqual(sent, [1, 2, 3], 'no desired state was sent for a refused assignment');
    });

    test("the largest desired state the role store accepts is one the host agent's consumer takes", async (t) => {
      const name = `edge-${randomUUID().slice(0, 8)}`;
      const { sha256 } = await uploadRole(name, '1.0.0');
      const hostId = await authorizedHost();
      // The host agent's consumer, set up as the host agent sets it up.
      const connection = new AmqpConnection({ url: brokerUrl(), appId: 'hostagent', logger: new Logger('test', 'error'), declareTopology: false });
      t.after(() => connection.close());
      const received: HostDesiredStateControl[] = [];
      await new MessageConsumer(connection, {
        queue: Queues.host(hostId),
        declare: async (channel) => void (await declareHostQueue(channel, hostId)),
        handlers: { [HOST_DESIRED_STATE]: async (state) => void received.push(state) },
        prefetch: 10,
        logger: new Logger('test', 'error'),
      }).start();
      await connection.ready();

      // The state's size with both generations at their widest: what the role store must keep within the limit.
      const widest = (pad: string): number =>
        Buffer.byteLength(
          JSON.stringify({ hostId, state: 'authorized', generation: Number.MAX_SAFE_INTEGER, roles: [{ name, version: '1.0.0', sha256, config: { pad }, generation: Number.MAX_SAFE_INTEGER }] }),
        );
      const pad = 'p'.repeat(MAX_BODY_BYTES - widest(''));
      assert.equal(widest(pad), MAX_BODY_BYTES);
      const tooLarge = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { config: { pad: `${pad}p` } });
      assert.equal(tooLarge.status, 400, 'one byte more is refused');
      const accepted = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { config: { pad } });
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body).slice(0, 300));
      const state = await waitFor('the host to take its desired state', () => received.find((s) => s.generation === 2));
      assert.equal(state.roles[0]?.config.pad, pad);
    });

    test('assigning: NOT_FOUND for unknown hosts, roles and versions; HOST_NOT_AUTHORIZED; newest version by default', async () => {
      const name = `app-${randomUUID().slice(0, 8)}`;
      await uploadRole(name, '1.2.0');
      await uploadRole(name, '1.10.0');
      await uploadRole(name, '1.9.0');
      const unauthorized = await knownHost();
      const hostId = await authorizedHost();
      assert.equal(errorCode(await http(rs, 'PUT', `/v1/hosts/${newHostId()}/roles/${name}`, {})), 'NOT_FOUND');
      const notAuthorized = await http(rs, 'PUT', `/v1/hosts/${unauthorized}/roles/${name}`, {});
      assert.equal(errorCode(notAuthorized), 'HOST_NOT_AUTHORIZED');
      assert.equal(errorCode(await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/nope-${name}`, {})), 'NOT_FOUND');
      assert.equal(errorCode(await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { version: '3.0.0' })), 'NOT_FOUND');
      const bad = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { version: 7, config: [] });
      assert.equal(bad.status, 400);
      assert.equal(errorCode(bad), 'VALIDATION_FAILED');
      assert.equal((await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, '{"config": {', 'application/json')).status, 400);
      const assigned = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { config: { a: 1 } });
      assert.equal(assigned.status, 200);
      assert.deepEqual(assigned.body, { hostId, role: name, version: '1.10.0', generation: 2 });
      const again = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { config: { a: 1 } });
      assert.deepEqual(again.body, { hostId, role: name, version: '1.10.0', generation: 2 }, 'the same assignment again changes nothing');
      const reconfigured = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { version: '1.2.0', config: { a: 2 } });
      assert.deepEqual(reconfigured.body, { hostId, role: name, version: '1.2.0', generation: 3 });
      const detail = (await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: unknown[] };
      assert.deepEqual(detail.roles, [{ name, version: '1.2.0', config: { a: 2 }, desiredGeneration: 3, appliedGeneration: null, state: 'pending', message: null, failures: 0 }]);
    });

    test("failures in a row: stored as the host reports them and shown; a retry raises the role's token in the desired state, not the generation", async () => {
      const name = `retry-${randomUUID().slice(0, 8)}`;
      await uploadRole(name, '1.0.0');
      const hostId = await authorizedHost();
      const assigned = (await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, {})).body as { generation: number };
      const roleView = async () => ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ state: string; failures: number; message: string | null }> }).roles[0];
      const status = (state: string, extra: Record<string, unknown>) =>
        raw.publish('pf9.events', `host.${hostId}.role-status`, { hostId, role: name, version: '1.0.0', generation: assigned.generation, state, ...extra }, { type: 'role.status', messageId: randomUUID() });
      await status('failed', { message: 'hook configure failed (exit 1)', failures: 3 });
      await waitFor('3 failures shown', async () => (await roleView())?.failures === 3);
      await status('failed', { message: 'from an agent that does not count' });
      await waitFor('the report applied', async () => (await roleView())?.message === 'from an agent that does not count');
      assert.equal((await roleView())?.failures, 3, 'a report without the count leaves it');
      const invalid = randomUUID();
      await raw.publish('pf9.events', `host.${hostId}.role-status`, { hostId, role: name, version: '1.0.0', generation: assigned.generation, state: 'failed', failures: -1 }, { type: 'role.status', messageId: invalid });
      assert.match(String((await dead.next((m) => m.properties.messageId === invalid)).properties.headers?.['x-pf9-error']), /failures/);

      const retried = await http(rs, 'POST', `/v1/hosts/${hostId}/roles/${name}/retry`);
      assert.deepEqual(retried, { ...retried, status: 200, body: { hostId, role: name, generation: assigned.generation, retry: 1 } });
      const pushed = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { roles: Array<{ retry?: number }> }).roles[0]?.retry === 1);
      assert.equal((pushed.body as { generation: number }).generation, assigned.generation, 'the generation stays');
      assert.equal(((await http(rs, 'POST', `/v1/hosts/${hostId}/roles/${name}/retry`)).body as { retry: number }).retry, 2);

      await status('applied', {});
      await waitFor('applied', async () => (await roleView())?.state === 'applied');
      assert.equal((await roleView())?.failures, 0, 'applied means none, even from an agent that does not count');
      await status('failed', { failures: 2 });
      await waitFor('2 failures', async () => (await roleView())?.failures === 2);
      await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { config: { again: true } });
      assert.equal((await roleView())?.failures, 0, 'a new assignment starts counting again');

      assert.equal(errorCode(await http(rs, 'POST', `/v1/hosts/${hostId}/roles/not-${name}/retry`)), 'NOT_FOUND');
      assert.equal(errorCode(await http(rs, 'POST', `/v1/hosts/${newHostId()}/roles/${name}/retry`)), 'NOT_FOUND');
      assert.equal(errorCode(await http(rs, 'POST', `/v1/hosts/${await knownHost()}/roles/${name}/retry`)), 'HOST_NOT_AUTHORIZED');
      assert.equal((await http(rs, 'POST', `/v1/hosts/${hostId}/roles/Bad.Name/retry`)).status, 400);
    });

    test('role.assign over pf9.api: reply, desired state on pf9.control, status reports, unassign and removal', async () => {
      const name = `svc-${randomUUID().slice(0, 8)}`;
      const { sha256 } = await uploadRole(name, '1.0.0');
      const hostId = await authorizedHost();
      const reply = await raw.request('role.assign', { hostId, role: name, config: { port: 8080 } }, { type: 'role.assign', messageId: randomUUID() });
      assert.deepEqual(reply.body, { ok: true, result: { hostId, role: name, version: '1.0.0', generation: 2 } });
      const desired = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { generation: number }).generation === 2);
      assert.deepEqual(desired.body, { hostId, state: 'authorized', generation: 2, roles: [{ name, version: '1.0.0', sha256, config: { port: 8080 }, generation: 2 }] });
      assert.equal(desired.properties.deliveryMode, 2, 'desired state is persistent');

      const status = (state: string, generation: number, extra: Record<string, unknown> = {}) =>
        raw.publish('pf9.events', `host.${hostId}.role-status`, { hostId, role: name, version: '1.0.0', generation, state, ...extra }, { type: 'role.status', messageId: randomUUID() });
      // A burst of one host's reports is applied in the order sent.
      await Promise.all([...Array(5).keys()].flatMap(() => ['downloading', 'installing', 'configuring'].map((s) => status(s, 2))));
      await status('applied', 2, { message: 'configured', log: 'hook output' });
      const applied = await waitFor('applied', async () => {
        const roles = ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<Record<string, unknown>> }).roles;
        return roles[0]?.state === 'applied' ? roles[0] : undefined;
      });
      assert.equal(applied.appliedGeneration, 2);
      assert.equal(applied.message, 'configured');
      await status('failed', 1);
      const stillApplied = ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<Record<string, unknown>> }).roles;
      await waitFor('the stale report to be consumed', async () => (await http(rs, 'GET', '/metrics')).status === 200);
      assert.equal(stillApplied[0]?.state, 'applied', 'a report about an older generation changes nothing');

      const unassigned = await raw.request('role.unassign', { hostId, role: name }, { type: 'role.unassign' });
      assert.deepEqual(unassigned.body, { ok: true, result: { hostId, role: name, generation: 3 } });
      const emptied = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { generation: number }).generation === 3);
      assert.deepEqual((emptied.body as { roles: unknown[] }).roles, []);
      const removing = ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ state: string }> }).roles;
      assert.equal(removing[0]?.state, 'removing');
      await status('removed', 3);
      await waitFor('the role to be gone', async () => ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: unknown[] }).roles.length === 0);
      const again = await raw.request('role.unassign', { hostId, role: name }, { type: 'role.unassign' });
      assert.equal((again.body as { error: { code: string } }).error.code, 'NOT_FOUND');
    });

    test('a message without type takes the kind its routing key names; one without message_id is processed once', async () => {
      const hostId = await knownHost();
      const reply = await raw.request('host.authorize', { hostId }, {});
      assert.deepEqual(reply.body, { ok: true, result: { hostId, state: 'authorized' } });
      assert.equal(((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { state: string }).state, 'authorized');
    });

    test('a command re-sent with the same message_id has no second effect and gets the same reply', async () => {
      const name = `idem-${randomUUID().slice(0, 8)}`;
      await uploadRole(name, '1.0.0');
      await uploadRole(name, '2.0.0');
      const hostId = await authorizedHost();
      const messageId = randomUUID();
      const first = await raw.request('role.assign', { hostId, role: name, version: '1.0.0' }, { type: 'role.assign', messageId });
      await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, { version: '2.0.0' });
      const second = await raw.request('role.assign', { hostId, role: name, version: '1.0.0' }, { type: 'role.assign', messageId });
      assert.deepEqual(second.body, first.body);
      const roles = ((await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ version: string; desiredGeneration: number }> }).roles;
      assert.equal(roles[0]?.version, '2.0.0', 'the re-sent assign did not take effect again');
      assert.equal(roles[0]?.desiredGeneration, 3);
    });

    test('bad messages are dead-lettered with the reason and answered, and the consumer keeps going', async () => {
      const cases: Array<{ name: string; content: Buffer | string | object; props: Record<string, unknown>; code: string; reason: RegExp }> = [
        { name: 'invalid JSON', content: '{"hostId": ', props: { type: 'host.authorize' }, code: 'VALIDATION_FAILED', reason: /not valid JSON/ },
        { name: 'unknown type', content: { hostId: 'h1' }, props: { type: 'host.reboot' }, code: 'UNKNOWN_TYPE', reason: /unknown message type 'host.reboot'/ },
        { name: 'wrong types', content: { hostId: 42, role: ['x'] }, props: { type: 'role.assign' }, code: 'VALIDATION_FAILED', reason: /hostId/ },
        { name: 'unknown property', content: { hostId: 'h1', role: 'r', verison: '1.0.0' }, props: { type: 'role.assign' }, code: 'VALIDATION_FAILED', reason: /verison/ },
        { name: 'not an object', content: '[1,2,3]', props: { type: 'host.authorize' }, code: 'VALIDATION_FAILED', reason: /JSON object/ },
        { name: 'oversize body', content: Buffer.alloc(1024 * 1024 + 1, 0x20), props: { type: 'host.authorize' }, code: 'VALIDATION_FAILED', reason: /exceeds the limit/ },
      ];
      for (const c of cases) {
        const messageId = randomUUID();
        const reply = await raw.request('role.assign', c.content, { ...c.props, messageId });
        const error = (reply.body as { ok: boolean; error: { code: string; message: string } }).error;
        assert.equal((reply.body as { ok: boolean }).ok, false, c.name);
        assert.equal(error.code, c.code, c.name);
        const deadLetter = await dead.next((m) => m.properties.messageId === messageId);
        const header = String(deadLetter.properties.headers?.['x-pf9-error']);
        assert.match(header, c.reason, `${c.name}: ${header}`);
      }
      const hostId = await knownHost();
      const ok = await raw.request('host.authorize', { hostId }, { type: 'host.authorize' });
      assert.equal((ok.body as { ok: boolean }).ok, true, 'the consumer still works');
    });

    test('a host may not speak for another host', async () => {
      const hostId = newHostId();
      const other = newHostId();
      const messageId = randomUUID();
      await raw.publish('pf9.events', `host.${other}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat', messageId });
      await heartbeat(other);
      await waitFor('the honest host', async () => (await http(rs, 'GET', `/v1/hosts/${other}`)).status === 200);
      assert.equal((await http(rs, 'GET', `/v1/hosts/${hostId}`)).status, 404);
    });

    test('/metrics counts messages by kind, /healthz answers 200, unknown routes answer 404 in the contract shape', async () => {
      const metrics = await http(rs, 'GET', '/metrics');
      const text = String(metrics.body);
      assert.match(text, /hostplane_amqp_messages_consumed_total\{kind="host.heartbeat"\} \d+/);
      assert.match(text, /hostplane_amqp_messages_rejected_total\{kind="[^"]+",reason="[^"]+"\} \d+/);
      assert.match(text, /hostplane_amqp_messages_published_total\{kind="host.desired-state"\} \d+/);
      assert.match(text, /hostplane_hosts_online \d+/);
      assert.match(text, /hostplane_role_applies_total\{outcome="applied"\} \d+/);
      assert.match(text, /hostplane_role_apply_duration_seconds_bucket/);
      const health = await http(rs, 'GET', '/healthz');
      assert.equal(health.status, 200);
      const missing = await http(rs, 'GET', '/v1/nothing-here');
      assert.equal(missing.status, 404);
      assert.equal(errorCode(missing), 'NOT_FOUND');
    });
  });
}
