import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { PkiFiles, type HostJoinResult } from '#contracts';
import { createHostKeyAndCsr, initPlanePki, signRenewalProof } from '#pki';
import { startComms, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import { loadIngressConfig } from '../../services/ingress/ingress.config';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { RabbitMqManagementClient } from '../../services/rolestore/broker-users/rabbitmq-management.client';
import { loadRolestoreConfig } from '../../services/rolestore/config/rolestore.config';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { amqpLoginBytes } from '../support/amqp-login-frames';
import { buildRole, fileRole, heartbeatBody, tempDir } from '../support/fixtures';
import { freePort } from '../support/processes';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch } from '../support/operator-auth';

/** A registered host: its certificate on disk under `root`, its own broker credentials, and a comms in front of the ingress. */
interface TestHost {
  hostId: string;
  root: string;
  broker: { username: string; password: string };
  comms: RunningComms;
}

/**
 * A host acts only as itself: whatever its tunnel carries, it logs in to the broker as its
 * own broker user and nobody else; once decommissioned, it has no tunnel and no user.
 */
describe('a host acts only as itself', () => {
  const run = randomBytes(3).toString('hex');
  let dataDir: string;
  let rs: RunningRolestore;
  let ingress: RunningIngress;
  const hosts: TestHost[] = [];
  const open: ChannelModel[] = [];
  const agents: RunningHostagent[] = [];
  const config = loadRolestoreConfig({ AMQP_URL: brokerUrl(), PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL });
  const management = new RabbitMqManagementClient(config.brokerManagementUrl, { vhost: config.brokerVhost, timeoutMs: 5000 });
  let raw: RawAmqp;

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    dataDir = await tempDir('identity-plane');
    await initPlanePki(dataDir, { ingressNames: ['localhost'], ingressIps: ['127.0.0.1'] });
    // The queue bounds are the role store's to put in place at its start: none left from an earlier run.
    for (const policy of ['pf9-host-queues', 'pf9-dead-letters']) {
      await managementFetch(`/api/operator-policies/${encodeURIComponent(config.brokerVhost)}/${policy}`, { method: 'DELETE' });
    }
    rs = await startRolestore(
      {
        AMQP_URL: brokerUrl(),
        PF9_DATA_DIR: dataDir,
        PF9_API_PORT: '0',
        PF9_HOST_BROKER_USERS: 'on',
        PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL,
        PF9_LOG_LEVEL: 'error',
      },
      { waitForBrokerMs: 15_000 },
    );
    const broker = new URL(brokerUrl());
    ingress = await startIngress(
      loadIngressConfig({
        PF9_DATA_DIR: dataDir,
        PF9_INGRESS_LISTEN: `127.0.0.1:${await freePort()}`,
        PF9_INGRESS_ADMIN: '127.0.0.1:0',
        PF9_INGRESS_ROUTES: `pf9-amqp=${broker.hostname}:${broker.port || 5672},pf9-http=${new URL(rs.hostApiUrl).host},pf9-join=${new URL(rs.joinUrl).host}`,
        PF9_LOG_LEVEL: 'error',
      }),
    );
  });

  after(async () => {
    for (const agent of agents) await agent.close();
    for (const connection of open) await connection.close().catch(() => undefined);
    // Decommissioning deletes what the hosts left on the shared broker (their users, their queues).
    for (const host of hosts) await planeFetch(rs, `${rs.url}/v1/hosts/${host.hostId}`, { method: 'DELETE' }).catch(() => undefined);
    for (const host of hosts) await host.comms.close();
    await raw?.close();
    await ingress?.close();
    await rs?.close();
  });

  /** Registers a host through the join listener, as its agent would, and starts its comms. */
  async function registerHost(name: string): Promise<TestHost> {
    const hostId = `id-${run}-${name}`;
    const token = ((await (await planeFetch(rs, `${rs.url}/v1/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
    const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
    const answer = await fetch(`${rs.joinUrl}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, hostId, hostname: `${name}.example`, csr: csrPem }) });
    assert.equal(answer.status, 200, await answer.clone().text());
    const joined = (await answer.json()) as HostJoinResult;
    assert.ok(joined.broker, 'the host has a broker user of its own');
    const root = await tempDir(`identity-${name}`);
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    await writeFile(join(root, PkiFiles.host.caCert), joined.caCertificate);
    await writeFile(join(root, PkiFiles.host.key), keyPem, { mode: 0o600 });
    await writeFile(join(root, PkiFiles.host.cert), joined.certificate);
    const comms = await startComms(
      loadCommsConfig({
        PF9_ROOT: root,
        PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0,http=127.0.0.1:0',
        PF9_PLANE_HOST: '127.0.0.1',
        PF9_PLANE_PORT: String(ingressPort()),
        PF9_PLANE_SERVERNAME: 'localhost',
        PF9_COMMS_ADMIN: '127.0.0.1:0',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    const host = { hostId, root, broker: joined.broker, comms };
    hosts.push(host);
    return host;
  }

  function ingressPort(): number {
    return ingress.port;
  }

  /** Connects straight to the broker (not through a tunnel) as `user`. */
  async function connectAs(user: { username: string; password: string }): Promise<ChannelModel> {
    const url = new URL(brokerUrl());
    url.username = encodeURIComponent(user.username);
    url.password = encodeURIComponent(user.password);
    const connection = await amqp.connect(url.toString());
    connection.on('error', () => undefined);
    open.push(connection);
    return connection;
  }

  async function metricOf(text: string, name: string): Promise<number> {
    const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return line ? Number(line[1]) : 0;
  }

  const api = (path: string, init?: RequestInit): Promise<Response> => planeFetch(rs, `${rs.url}${path}`, init);

  /** GET on the management API, with the credentials of its URL. */
  async function managementFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(config.brokerManagementUrl);
    const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
    return fetch(new URL(path, url), { ...init, headers: { authorization } });
  }
  const managementGet = async (path: string): Promise<unknown> => (await managementFetch(path)).json();
  const managementStatus = async (path: string): Promise<number> => (await managementFetch(path)).status;

  /** Logs in to the broker through the host's tunnel (its comms) as `user`. */
  async function loginThrough(host: TestHost, user: { username: string; password: string }): Promise<ChannelModel> {
    const url = new URL(brokerUrl());
    url.hostname = '127.0.0.1';
    url.port = String(host.comms.listeners.amqp);
    url.username = encodeURIComponent(user.username);
    url.password = encodeURIComponent(user.password);
    const connection = await amqp.connect(url.toString());
    connection.on('error', () => undefined);
    open.push(connection);
    return connection;
  }

  /** Sends raw bytes through the host's tunnel and collects what comes back until the tunnel closes. */
  function rawThrough(host: TestHost, bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const socket = netConnect({ host: '127.0.0.1', port: host.comms.listeners.amqp ?? 0 });
      socket.on('connect', () => socket.write(bytes));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
  }

  describe("no host's tunnel logs in to the broker as anyone but that host's own broker user", () => {
    let a: TestHost;
    let b: TestHost;
    const plane = (): { username: string; password: string } => {
      const url = new URL(brokerUrl());
      return { username: decodeURIComponent(url.username || 'guest'), password: decodeURIComponent(url.password || 'guest') };
    };

    before(async () => {
      a = await registerHost('a');
      b = await registerHost('b');
    });

    test("as its own broker user it logs in and uses its queue", async () => {
      const connection = await loginThrough(a, a.broker);
      const channel = await connection.createChannel();
      await channel.checkExchange('pf9.events');
      await channel.close();
    });

    test("not as guest, though the broker lets guest in from loopback, where every tunnel comes from", async () => {
      await assert.rejects(loginThrough(a, { username: 'guest', password: 'guest' }), /ACCESS[-_]REFUSED/);
    });

    test("not as the plane's broker user, with the plane's password", async () => {
      await assert.rejects(loginThrough(a, plane()), /ACCESS[-_]REFUSED/);
    });

    test("not as another host's user, even with that host's password", async () => {
      await assert.rejects(loginThrough(a, b.broker), /ACCESS[-_]REFUSED/);
      // The other host itself still logs in as itself.
      await loginThrough(b, b.broker);
    });

    test('not with another SASL mechanism (AMQPLAIN names its user in a table), nor with a PLAIN response that hides a second name', async () => {
      for (const bytes of [
        amqpLoginBytes({ mechanism: 'AMQPLAIN', response: Buffer.from('\x05LOGINS\x00\x00\x00\x05guest\x08PASSWORDS\x00\x00\x00\x05guest', 'latin1') }),
        amqpLoginBytes({ response: Buffer.from(`${a.broker.username}\0guest\0guest`) }),
        amqpLoginBytes({ response: Buffer.from(`\0guest\0guest\0${a.broker.username}`) }),
      ]) {
        const answer = await rawThrough(a, bytes);
        // The broker's connection.start may come first; a refusal (connection.close 403) always last, and nothing else.
        assert.match(answer.toString('latin1'), /ACCESS_REFUSED/, 'the client is told why');
        assert.ok(!answer.includes(Buffer.from([0, 10, 0, 30])), 'never got as far as connection.tune (class 10, method 30)');
      }
    });

    test('what is not AMQP does not reach the broker', async () => {
      const answer = await rawThrough(a, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      assert.equal(answer.length, 0);
    });

    test('every refusal is counted and logged by the ingress', async () => {
      const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
      const refused = /hostplane_ingress_refusals_total\{route="pf9-amqp",cause="amqp-login"\} (\d+)/.exec(metrics);
      assert.ok(refused && Number(refused[1]) >= 7, refused?.[0] ?? 'no amqp-login refusals counted');
    });
  });

  describe('DELETE /v1/hosts/:id decommissions a host', () => {
    test('its roles and record go, its broker user and queue are deleted, its certificate revoked, and its open tunnels closed at once', async () => {
      const c = await registerHost('c');
      assert.equal((await api(`/v1/hosts/${c.hostId}/authorize`, { method: 'POST' })).status, 200);
      const upload = await api('/v1/roles', { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole('decommissioned-role', '1.0.0')) });
      assert.ok(upload.status === 201 || upload.status === 409);
      assert.equal((await api(`/v1/hosts/${c.hostId}/roles/decommissioned-role`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 200);
      // Its broker connection and a package download under way, both through its tunnels.
      const broker = await loginThrough(c, c.broker);
      const channel = await broker.createChannel();
      await channel.assertQueue(`pf9.host.${c.hostId}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });
      let brokerClosedAt = 0;
      broker.on('close', () => (brokerClosedAt = Date.now()));
      const http = netConnect({ host: '127.0.0.1', port: c.comms.listeners.http ?? 0 });
      let httpClosedAt = 0;
      http.on('error', () => undefined);
      http.on('close', () => (httpClosedAt = Date.now()));
      await new Promise((resolve) => http.once('connect', resolve));
      http.write('GET /v1/roles/decommissioned-role/1.0.0/package HTTP/1.1\r\nhost: plane\r\n');
      await waitFor('the package tunnel to be up', async () => /connections_open\{route="pf9-http"\} [1-9]/.test(await (await fetch(`${ingress.adminUrl}/metrics`)).text()));

      const deletedAt = Date.now();
      const answer = await api(`/v1/hosts/${c.hostId}`, { method: 'DELETE' });
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.deepEqual(await answer.json(), { hostId: c.hostId, state: 'decommissioned', brokerUser: 'deleted', certificateRevoked: true });

      await waitFor('both tunnels closed', () => brokerClosedAt > 0 && httpClosedAt > 0, { timeoutMs: 5_000 });
      assert.ok(httpClosedAt - deletedAt < 2_000, `the package tunnel closed ${httpClosedAt - deletedAt} ms after the DELETE`);
      assert.ok(brokerClosedAt - deletedAt < 2_000, `the broker tunnel closed ${brokerClosedAt - deletedAt} ms after the DELETE`);
      await assert.rejects(loginThrough(c, c.broker), 'it cannot reconnect');
      assert.equal(await management.getPermissions(c.broker.username), null, 'its broker user is gone');
      await assert.rejects(connectAs(c.broker), /ACCESS[-_]REFUSED|403/, 'not even straight to the broker');
      assert.equal(await managementStatus(`/api/queues/${encodeURIComponent(config.brokerVhost)}/pf9.host.${c.hostId}`), 404, 'its queue is gone');
      assert.equal((await api(`/v1/hosts/${c.hostId}`)).status, 404, 'its record and roles are gone');
      assert.ok(!((await (await api('/v1/hosts')).json()) as Array<{ id: string }>).some((h) => h.id === c.hostId));
      assert.equal((await api(`/v1/hosts/${c.hostId}`, { method: 'DELETE' })).status, 404, 'once');
      const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
      assert.match(metrics, /hostplane_ingress_refusals_total\{route="pf9-http",cause="revoked-closed"\} [1-9]/);
    });

    test('a decommissioned host cannot renew its certificate, nor register again without a token made for it', async () => {
      const d = await registerHost('d');
      const [certificate, keyPem] = await Promise.all([readFile(join(d.root, PkiFiles.host.cert), 'utf8'), readFile(join(d.root, PkiFiles.host.key), 'utf8')]);
      assert.equal((await api(`/v1/hosts/${d.hostId}`, { method: 'DELETE' })).status, 200);
      const next = await createHostKeyAndCsr(d.hostId);
      const renewal = await fetch(`${rs.joinUrl}/v1/renew`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostId: d.hostId, certificate, csr: next.csrPem, proof: signRenewalProof(keyPem, certificate, next.csrPem) }),
      });
      assert.equal(renewal.status, 403);
      assert.match(((await renewal.json()) as { error: { message: string } }).error.message, /decommissioned/);
      const token = ((await (await api('/v1/join-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
      const again = await fetch(`${rs.joinUrl}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, hostId: d.hostId, hostname: 'd', csr: next.csrPem }) });
      assert.equal(again.status, 403, 'an ordinary token does not take the id back');
    });
  });

  describe('a compromised host cannot flood the plane or the broker', () => {
    let e: TestHost;
    let control: Capture;
    let dead: Capture;

    before(async () => {
      e = await registerHost('e');
      control = await raw.capture('pf9.control', `host.${e.hostId}.#`);
      dead = await raw.capture('pf9.dlx', '');
    });

    test('its broker user may hold 8 connections and 32 channels open, no more', async () => {
      const connections: ChannelModel[] = [];
      try {
        for (let i = 0; i < 8; i += 1) connections.push(await connectAs(e.broker));
        // The broker closes a connection over the limit before it opens.
        await assert.rejects(connectAs(e.broker), /ConnectionClose|connection limit|NOT_ALLOWED/i);
        for (const connection of connections.slice(1)) await connection.close();
        for (let i = 0; i < 32; i += 1) await connections[0]!.createChannel();
        await assert.rejects(
          (async () => {
            const extra = await connections[0]!.createChannel();
            await extra.checkExchange('pf9.events');
          })(),
          /channel limit|NOT_ALLOWED|closed|Channel ended/i,
        );
      } finally {
        for (const connection of connections) await connection.close().catch(() => undefined);
      }
    });

    test('its queue is bounded: the newest 100 messages are kept', async () => {
      await waitFor('the role store to bound the queues', async () => (await managementStatus(`/api/operator-policies/${encodeURIComponent(config.brokerVhost)}/pf9-host-queues`)) === 200);
      const mine = await connectAs(e.broker);
      const channel = await mine.createChannel();
      await channel.assertQueue(`pf9.host.${e.hostId}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });
      await channel.bindQueue(`pf9.host.${e.hostId}`, 'pf9.control', `host.${e.hostId}.#`);
      for (let i = 0; i < 150; i += 1) raw.channel.publish('pf9.control', `host.${e.hostId}.test`, Buffer.from(String(i)));
      await raw.channel.waitForConfirms();
      const { messageCount } = await channel.checkQueue(`pf9.host.${e.hostId}`);
      assert.equal(messageCount, 100);
      const first = await channel.get(`pf9.host.${e.hostId}`, { noAck: true });
      assert.ok(first !== false && first.content.toString() === '50', 'the oldest went first');
      await channel.purgeQueue(`pf9.host.${e.hostId}`);
      // The management API shows a queue's policy once its statistics are next collected (every few seconds).
      const deadPolicy = async (): Promise<string | undefined> => ((await managementGet(`/api/queues/${encodeURIComponent(config.brokerVhost)}/pf9.dead`)) as { operator_policy?: string }).operator_policy;
      await waitFor('pf9.dead bounded too', async () => (await deadPolicy()) === 'pf9-dead-letters', { timeoutMs: 15_000 });
    });

    test('its host.sync requests are answered at a bounded rate; the rest are dropped, not dead-lettered', async () => {
      const mine = await connectAs(e.broker);
      const channel = await mine.createConfirmChannel();
      const before = control.messages.length;
      const deadBefore = dead.messages.filter((m) => m.routingKey.includes(e.hostId)).length;
      for (let i = 0; i < 50; i += 1) {
        channel.publish('pf9.events', `host.${e.hostId}.sync`, Buffer.from(JSON.stringify({ hostId: e.hostId, reason: 'timer' })), { type: 'host.sync', contentType: 'application/json', userId: e.broker.username });
      }
      await channel.waitForConfirms();
      await waitFor('the syncs to be handled', async () => (await metricOf(await (await api('/metrics')).text(), 'hostplane_host_syncs_dropped_total')) >= 44);
      const answered = (): typeof control.messages => control.messages.slice(before).filter((m) => m.properties.type === 'host.desired-state');
      await waitFor('the answers to arrive', () => answered().length >= 5);
      const answers = answered();
      assert.ok(answers.length >= 5 && answers.length <= 6, `${answers.length} answers to 50 requests`);
      assert.ok(answers.every((m) => m.properties.userId === config.planeBrokerUser), 'each answer carries the plane\'s broker user');
      assert.equal(dead.messages.filter((m) => m.routingKey.includes(e.hostId)).length, deadBefore);
    });

    test('what it sends that is refused is copied to pf9.dlx within a budget; the rest is dropped and counted', async () => {
      const mine = await connectAs(e.broker);
      const channel = await mine.createConfirmChannel();
      const before = dead.messages.filter((m) => m.routingKey === `host.${e.hostId}.heartbeat`).length;
      for (let i = 0; i < 100; i += 1) {
        channel.publish('pf9.events', `host.${e.hostId}.heartbeat`, Buffer.from('{not json'), { type: 'host.heartbeat', contentType: 'application/json', userId: e.broker.username });
      }
      await channel.waitForConfirms();
      await waitFor('the garbage to be handled', async () => (await metricOf(await (await api('/metrics')).text(), 'hostplane_dead_letters_dropped_total')) >= 79);
      // The copies reach this test's own queue on pf9.dlx a moment after the role store counts them.
      const copiedNow = (): number => dead.messages.filter((m) => m.routingKey === `host.${e.hostId}.heartbeat`).length - before;
      await waitFor('the copies to reach pf9.dlx', () => copiedNow() >= 20, { timeoutMs: 5_000 }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const copied = copiedNow();
      assert.ok(copied >= 20 && copied <= 21, `${copied} of 100 copied to pf9.dlx`);
      // It still speaks for itself within its budget: a good heartbeat is taken.
      channel.publish('pf9.events', `host.${e.hostId}.heartbeat`, Buffer.from(JSON.stringify(heartbeatBody(e.hostId))), { type: 'host.heartbeat', contentType: 'application/json', userId: e.broker.username });
      await channel.waitForConfirms();
      await waitFor('its heartbeat stored', async () => ((await (await api(`/v1/hosts/${e.hostId}`)).json()) as { lastHeartbeatAt: string | null }).lastHeartbeatAt !== null);
    });
  });

  describe("the host agent acts only on the plane's control messages", () => {
    let agent: RunningHostagent;
    let agentRoot: string;
    let forger: { username: string; password: string };

    /** A host agent behind its own comms, registered with a join token as an operator would set it up. */
    async function startAgent(): Promise<RunningHostagent> {
      agentRoot = await tempDir('identity-agent');
      await mkdir(join(agentRoot, PkiFiles.host.dir), { recursive: true });
      await writeFile(join(agentRoot, PkiFiles.host.caCert), await readFile(join(dataDir, PkiFiles.plane.caCert)));
      const comms = await startComms(
        loadCommsConfig({
          PF9_ROOT: agentRoot,
          PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0,http=127.0.0.1:0,join=127.0.0.1:0',
          PF9_PLANE_HOST: '127.0.0.1',
          PF9_PLANE_PORT: String(ingress.port),
          PF9_PLANE_SERVERNAME: 'localhost',
          PF9_COMMS_ADMIN: '127.0.0.1:0',
          PF9_LOG_LEVEL: 'error',
        }),
      );
      const token = ((await (await api('/v1/join-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
      const started = await startHostagent({
        AMQP_URL: throughComms(comms),
        PF9_API_URL: `http://127.0.0.1:${comms.listeners.http}`,
        PF9_JOIN_URL: `http://127.0.0.1:${comms.listeners.join}`,
        PF9_JOIN_TOKEN: token,
        PF9_ROOT: agentRoot,
        PF9_HEARTBEAT_INTERVAL_S: '1',
        PF9_CONVERGE_INTERVAL_S: '60',
        PF9_AGENT_METRICS_PORT: '0',
        PF9_LOG_LEVEL: 'error',
      });
      agents.push(started);
      hosts.push({ hostId: started.hostId, root: agentRoot, broker: { username: '', password: '' }, comms });
      return started;
    }

    const refused = async (reason: string): Promise<number> => metricOf(await (await fetch(`${agent.url}/metrics`)).text(), `hostplane_hostagent_control_refused_total\\{reason="${reason}"\\}`);
    const forge = async (as: 'forger' | 'plane', body: Record<string, unknown>, userId?: string): Promise<void> => {
      const sender = as === 'plane' ? raw : await RawAmqp.open(withUser(forger));
      await sender.publish('pf9.control', `host.${agent.hostId}.desired-state`, body, { type: 'host.desired-state', contentType: 'application/json', ...(userId ? { userId } : {}) });
      if (sender !== raw) await sender.close();
    };
    /** The broker URL (its vhost) through the host's comms; the agent logs in with its own user. */
    const throughComms = (comms: RunningComms): string => {
      const url = new URL(brokerUrl());
      url.hostname = '127.0.0.1';
      url.port = String(comms.listeners.amqp);
      return url.toString();
    };
    const withUser = (user: { username: string; password: string }): string => {
      const url = new URL(brokerUrl());
      url.username = encodeURIComponent(user.username);
      url.password = encodeURIComponent(user.password);
      return url.toString();
    };

    before(async () => {
      // Another broker user allowed everything in the vhost: an operator's tool, a leaked account.
      forger = { username: `forger-${run}`, password: randomBytes(12).toString('hex') };
      await management.putUser(forger.username, forger.password);
      await management.setPermissions(forger.username, { configure: '.*', write: '.*', read: '.*' });
      const upload = await api('/v1/roles', { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole('agent-role', '1.0.0')) });
      assert.ok(upload.status === 201 || upload.status === 409);
      agent = await startAgent();
      await waitFor('the host to appear', async () => (await api(`/v1/hosts/${agent.hostId}`)).ok, { timeoutMs: 30_000 });
      assert.equal((await api(`/v1/hosts/${agent.hostId}/authorize`, { method: 'POST' })).status, 200);
      await waitFor('generation 1 applied', () => agent.runtime.engine.generation === 1, { timeoutMs: 15_000 });
    });

    after(async () => {
      await management.deleteUser(forger.username).catch(() => undefined);
    });

    test('a desired state from another broker user, or without a user_id, is never applied', async () => {
      const wipe = { hostId: agent.hostId, state: 'unauthorized', generation: 2, roles: [] };
      await forge('forger', wipe, forger.username);
      await forge('forger', wipe);
      await forge('plane', wipe);
      await waitFor('three refusals', async () => (await refused('forbidden')) >= 3);
      assert.equal(agent.runtime.engine.generation, 1, 'nothing applied');
    });

    test('a huge generation, even with the plane\'s user_id, does not freeze the host: the plane is asked and its answer stands', async () => {
      await forge('plane', { hostId: agent.hostId, state: 'unauthorized', generation: Number.MAX_SAFE_INTEGER, roles: [] }, config.planeBrokerUser);
      await waitFor('the gap seen', async () => (await refused('gap')) >= 1);
      assert.equal(agent.runtime.engine.generation, 1);
      // The plane's next real change is applied.
      assert.equal((await api(`/v1/hosts/${agent.hostId}/roles/agent-role`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 200);
      await waitFor('generation 2 applied', () => agent.runtime.engine.generation === 2, { timeoutMs: 15_000 });
    });

    test("the plane's answer to the host's own request stands even below the generation it holds (a frozen host, a restored plane database)", async () => {
      await agent.close();
      agents.splice(agents.indexOf(agent), 1);
      const stateFile = join(agentRoot, 'var/lib/pf9/hostagent/state.json');
      const held = JSON.parse(await readFile(stateFile, 'utf8')) as { desiredGeneration: number };
      await writeFile(stateFile, JSON.stringify({ ...held, desiredGeneration: Number.MAX_SAFE_INTEGER }));
      const hostId = agent.hostId;
      const comms = hosts.find((h) => h.hostId === hostId)!.comms;
      agent = await startHostagent({
        AMQP_URL: throughComms(comms),
        PF9_API_URL: `http://127.0.0.1:${comms.listeners.http}`,
        PF9_JOIN_URL: `http://127.0.0.1:${comms.listeners.join}`,
        PF9_ROOT: agentRoot,
        PF9_HEARTBEAT_INTERVAL_S: '1',
        PF9_CONVERGE_INTERVAL_S: '60',
        PF9_AGENT_METRICS_PORT: '0',
        PF9_LOG_LEVEL: 'error',
      });
      agents.push(agent);
      await waitFor("the plane's generation taken back", () => agent.runtime.engine.generation === 2, { timeoutMs: 15_000 });
      assert.equal((await api(`/v1/hosts/${hostId}/roles/agent-role`, { method: 'DELETE' })).status, 200);
      await waitFor('and the next change followed', () => agent.runtime.engine.generation === 3, { timeoutMs: 15_000 });
    });
  });
});
