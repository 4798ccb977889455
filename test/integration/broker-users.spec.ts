import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { HostJoinResult } from '#contracts';
import { Logger } from '#logging';
import { createHostKeyAndCsr, initPlanePki } from '#pki';
import { createBrokerAccounts } from '../../services/rolestore/broker-users/broker-accounts.factory';
import type { BrokerAccountsService, HostBrokerCredentials } from '../../services/rolestore/broker-users/broker-accounts.service';
import { hostPermissions, NO_PERMISSIONS } from '../../services/rolestore/broker-users/host-broker-permissions';
import { RabbitMqManagementClient } from '../../services/rolestore/broker-users/rabbitmq-management.client';
import { loadRolestoreConfig } from '../../services/rolestore/config/rolestore.config';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { buildRole, fileRole, tempDir } from '../support/fixtures';
import { DIST, freePort } from '../support/processes';
import { RawAmqp } from '../support/raw-amqp';
import { killNow, ServiceProcess } from '../support/service-process';
import { brokerUrl, databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { waitFor } from '../support/wait';

const ACCESS_REFUSED = 403;
const PRECONDITION_FAILED = 406;
const CONNECTION_FORCED = 320;

interface AmqpError {
  code?: number;
  message: string;
}

/** Connects as the given broker user to the vhost and host of AMQP_URL. */
async function connectAs(credentials: HostBrokerCredentials): Promise<ChannelModel> {
  const url = new URL(brokerUrl());
  url.username = encodeURIComponent(credentials.username);
  url.password = encodeURIComponent(credentials.password);
  const connection = await amqp.connect(url.toString());
  connection.on('error', () => undefined);
  return connection;
}

/**
 * Runs `act` on a fresh channel and resolves with the error the broker closed that
 * channel with (an RPC rejects with it; a publish only shows it on the channel).
 */
async function brokerRefusal(connection: ChannelModel, act: (channel: ConfirmChannel) => Promise<unknown> | void): Promise<AmqpError> {
  const channel = await connection.createConfirmChannel();
  const closedWith = once(channel, 'error', { signal: AbortSignal.timeout(5000) }).then(([err]) => err as AmqpError);
  try {
    await act(channel);
  } catch {
    // the same error arrives on the channel
  }
  try {
    return await closedWith;
  } catch {
    await channel.close().catch(() => undefined);
    throw new Error('the broker allowed it: the channel was not closed with an error within 5 s');
  }
}

function assertRefused(err: AmqpError, code: number, name: string): void {
  assert.equal(err.code, code, `expected ${code} ${name}, got ${String(err.code)}: ${err.message}`);
  assert.match(err.message, new RegExp(name));
}

async function requireManagementApi(management: RabbitMqManagementClient): Promise<void> {
  try {
    await management.overview();
  } catch (err) {
    throw new Error(
      `RabbitMQ's management API does not answer at ${management.url} (${err instanceof Error ? err.message : String(err)}); ` +
        'enable it: rabbitmq-plugins enable rabbitmq_management (or set PF9_BROKER_MANAGEMENT_URL to where it is)',
    );
  }
}

describe('each host its own broker user, held by the broker to its own queue and routing keys', () => {
  const run = randomBytes(4).toString('hex');
  const hostA = `bu-${run}-a`;
  const hostB = `bu-${run}-b`;
  const config = loadRolestoreConfig({ AMQP_URL: brokerUrl(), PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL, PF9_HOST_BROKER_USERS: 'on' });
  const management = new RabbitMqManagementClient(config.brokerManagementUrl, { vhost: config.brokerVhost, timeoutMs: 5000 });
  let accounts: BrokerAccountsService;
  let admin: RawAmqp;
  let a: HostBrokerCredentials;
  let b: HostBrokerCredentials;
  const open: ChannelModel[] = [];

  async function connect(credentials: HostBrokerCredentials): Promise<ChannelModel> {
    const connection = await connectAs(credentials);
    open.push(connection);
    return connection;
  }

  before(async () => {
    await requireManagementApi(management);
    const service = createBrokerAccounts(config, new Logger('broker-users-test', 'error'));
    assert.ok(service, 'PF9_HOST_BROKER_USERS=on gives a service');
    accounts = service;
    // The plane's topology, as the role store declares it.
    admin = await RawAmqp.open();
    await admin.channel.assertExchange('pf9.events', 'topic', { durable: true });
    await admin.channel.assertExchange('pf9.control', 'topic', { durable: true });
    await admin.channel.assertExchange('pf9.dlx', 'fanout', { durable: true });
    a = await accounts.ensureHostUser(hostA);
    b = await accounts.ensureHostUser(hostB);
  });

  after(async () => {
    for (const connection of open) await connection.close().catch(() => undefined);
    if (accounts) {
      for (const hostId of [hostA, hostB]) await accounts.deleteHostUser(hostId).catch(() => undefined);
    }
    if (admin) {
      for (const hostId of [hostA, hostB]) await admin.channel.deleteQueue(`pf9.host.${hostId}`).catch(() => undefined);
      await admin.close();
    }
  });

  test('a new host user is named after its host, has a strong password, and may connect but do nothing', async () => {
    assert.equal(a.username, `pf9-host-${hostA}`);
    assert.match(a.password, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.notEqual(a.password, b.password);
    const connection = await connect(a);
    assertRefused(
      await brokerRefusal(connection, (ch) => ch.assertQueue(`pf9.host.${hostA}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } })),
      ACCESS_REFUSED,
      'ACCESS_REFUSED',
    );
    assertRefused(await brokerRefusal(connection, (ch) => void ch.publish('pf9.events', `host.${hostA}.heartbeat`, Buffer.from('{}'))), ACCESS_REFUSED, 'ACCESS_REFUSED');
  });

  describe('once granted', () => {
    let connection: ChannelModel;
    let channel: ConfirmChannel;

    before(async () => {
      await accounts.grant(hostA);
      await accounts.grant(hostB);
      // B declares its own queue, so that A's attempts on it meet an existing queue.
      const connectionB = await connect(b);
      const channelB = await connectionB.createChannel();
      await channelB.assertQueue(`pf9.host.${hostB}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });
      await channelB.bindQueue(`pf9.host.${hostB}`, 'pf9.control', `host.${hostB}.#`);
      connection = await connect(a);
      channel = await connection.createConfirmChannel();
    });

    test('the host declares its queue, binds it to pf9.control with its own keys, and consumes it', async () => {
      const queue = `pf9.host.${hostA}`;
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });
      await channel.bindQueue(queue, 'pf9.control', `host.${hostA}.#`);
      const received: string[] = [];
      await channel.consume(queue, (msg) => {
        if (!msg) return;
        received.push(msg.fields.routingKey);
        channel.ack(msg);
      });
      await admin.publish('pf9.control', `host.${hostA}.desired-state`, { hostId: hostA }, { type: 'host.desired-state', contentType: 'application/json' });
      await waitFor('the desired state on the host queue', () => received.includes(`host.${hostA}.desired-state`), { timeoutMs: 5000 });
    });

    test('the host publishes its own events, with its own user_id', async () => {
      const capture = await admin.capture('pf9.events', `host.${hostA}.#`);
      channel.publish('pf9.events', `host.${hostA}.heartbeat`, Buffer.from(JSON.stringify({ hostId: hostA })), {
        contentType: 'application/json',
        type: 'host.heartbeat',
        userId: a.username,
      });
      await channel.waitForConfirms();
      const event = await capture.next((m) => m.routingKey === `host.${hostA}.heartbeat`, 5000);
      assert.equal(event.properties.userId, a.username);
    });

    test("the broker refuses the host another host's routing key", async () => {
      assertRefused(
        await brokerRefusal(connection, (ch) => void ch.publish('pf9.events', `host.${hostB}.heartbeat`, Buffer.from('{}'), { type: 'host.heartbeat' })),
        ACCESS_REFUSED,
        'ACCESS_REFUSED',
      );
    });

    test("the broker refuses the host another host's queue: consume, declare", async () => {
      assertRefused(await brokerRefusal(connection, (ch) => ch.consume(`pf9.host.${hostB}`, () => undefined)), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assertRefused(
        await brokerRefusal(connection, (ch) => ch.assertQueue(`pf9.host.${hostB}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } })),
        ACCESS_REFUSED,
        'ACCESS_REFUSED',
      );
    });

    test("the broker refuses binding the host's queue to another host's keys, or to all of them", async () => {
      for (const pattern of [`host.${hostB}.#`, '#', 'host.*.desired-state', `host.${hostA}`]) {
        assertRefused(await brokerRefusal(connection, (ch) => ch.bindQueue(`pf9.host.${hostA}`, 'pf9.control', pattern)), ACCESS_REFUSED, 'ACCESS_REFUSED');
      }
    });

    test("the broker refuses another host's user_id", async () => {
      assertRefused(
        await brokerRefusal(connection, (ch) => void ch.publish('pf9.events', `host.${hostA}.heartbeat`, Buffer.from('{}'), { userId: b.username })),
        PRECONDITION_FAILED,
        'PRECONDITION_FAILED',
      );
    });

    test('the broker refuses the host declaring exchanges or publishing on the plane\'s exchanges', async () => {
      assertRefused(await brokerRefusal(connection, (ch) => ch.assertExchange('pf9.events', 'topic', { durable: true })), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assertRefused(await brokerRefusal(connection, (ch) => ch.assertExchange('pf9.control', 'topic', { durable: true })), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assertRefused(await brokerRefusal(connection, (ch) => void ch.publish('pf9.control', `host.${hostA}.desired-state`, Buffer.from('{}'))), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assertRefused(await brokerRefusal(connection, (ch) => void ch.publish('pf9.api', 'host.authorize', Buffer.from('{}'))), ACCESS_REFUSED, 'ACCESS_REFUSED');
    });

    test('revoked: the plane closes the open connection, and the host can no longer consume its queue', async () => {
      const closed = once(connection, 'close', { signal: AbortSignal.timeout(10_000) }).then(([err]) => err as AmqpError | undefined);
      await accounts.revoke(hostA);
      const err = await closed;
      assert.equal(err?.code, CONNECTION_FORCED, `closed by the broker with CONNECTION_FORCED, got ${String(err?.message)}`);
      assert.match(String(err?.message), new RegExp(`host ${hostA} deauthorized`));

      const again = await connect(a);
      assertRefused(await brokerRefusal(again, (ch) => ch.consume(`pf9.host.${hostA}`, () => undefined)), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assertRefused(await brokerRefusal(again, (ch) => void ch.publish('pf9.events', `host.${hostA}.heartbeat`, Buffer.from('{}'))), ACCESS_REFUSED, 'ACCESS_REFUSED');
      assert.deepEqual(await management.getTopicPermissions(a.username), []);
    });

    test('a host that registers again gets a new password and keeps what it was granted', async () => {
      const again = await accounts.ensureHostUser(hostB);
      assert.notEqual(again.password, b.password);
      await assert.rejects(connectAs(b), 'the old password no longer works');
      const connectionB = await connect(again);
      const channelB: Channel = await connectionB.createChannel();
      await channelB.checkQueue(`pf9.host.${hostB}`);
      await channelB.consume(`pf9.host.${hostB}`, () => undefined);
      b = again;
    });
  });
});

/** A request to the join listener, or with `token` to the REST API as that operator. */
async function postJson(url: string, body: unknown = {}, method = 'POST', token?: string): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
  const res = await fetch(url, { method, headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

for (const kind of DATABASE_KINDS) {
  describe(`a role store on ${kind} restarted during a deauthorized host's grace period`, () => {
    // Long enough for the first role store to be killed well within it, short enough to wait out.
    const GRACE_S = 5;
    const run = randomBytes(4).toString('hex');
    const hostId = `bu-${run}-restart`;
    const config = loadRolestoreConfig({ AMQP_URL: brokerUrl(), PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL, PF9_HOST_BROKER_USERS: 'on' });
    const management = new RabbitMqManagementClient(config.brokerManagementUrl, { vhost: config.brokerVhost, timeoutMs: 5000 });
    let env: NodeJS.ProcessEnv;
    let dataDir = '';
    let first: ServiceProcess | undefined;
    let second: RunningRolestore | undefined;
    let hostConnection: ChannelModel | undefined;

    before(async () => {
      await requireManagementApi(management);
      dataDir = await tempDir(`broker-users-restart-${kind}`);
      await initPlanePki(dataDir);
      env = {
        ...process.env,
        AMQP_URL: brokerUrl(),
        DATABASE_URL: databaseUrlFor(kind, dataDir),
        PF9_DATA_DIR: dataDir,
        PF9_HOST_BROKER_USERS: 'on',
        PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL,
        PF9_HOST_DEAUTHORIZED_GRACE_S: String(GRACE_S),
        PF9_LOG_LEVEL: 'error',
      };
    });

    after(async () => {
      if (first) {
        killNow(first);
        await first.stop();
      }
      await second?.close();
      await hostConnection?.close().catch(() => undefined);
      await createBrokerAccounts(config, new Logger('broker-users-test', 'error'))?.deleteHostUser(hostId).catch(() => undefined);
      const admin = await RawAmqp.open();
      await admin.channel.deleteQueue(`pf9.host.${hostId}`).catch(() => undefined);
      await admin.close();
    });

    test('the restarted role store still cuts the host off: permissions gone, connection closed', async () => {
      // The first role store in a process of its own, killed as a crash would: its grace timer dies with it.
      const apiPort = await freePort();
      const joinPort = await freePort();
      const api = `http://127.0.0.1:${apiPort}`;
      first = new ServiceProcess('rolestore', process.execPath, [join(DIST, 'services/rolestore/main.js')], {
        env: { ...env, PF9_API_PORT: String(apiPort), PF9_JOIN_PORT: String(joinPort), PF9_HOST_API_PORT: String(await freePort()) },
      });
      await first.listening('127.0.0.1', joinPort, 20_000);
      await waitFor('the first role store to be healthy', async () => (await fetch(`${api}/healthz`)).ok, { timeoutMs: 20_000 });

      // The operator's token: the one the role store wrote at its first start, as an operator on the plane's machine reads it.
      const admin = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
      const token = (await postJson(`${api}/v1/join-tokens`, {}, 'POST', admin)).body as { token: string };
      const { csrPem } = await createHostKeyAndCsr(hostId);
      const joined = await postJson(`http://127.0.0.1:${joinPort}/v1/join`, { token: token.token, hostId, hostname: `${hostId}.test`, csr: csrPem });
      assert.equal(joined.status, 200, JSON.stringify(joined.body));
      const credentials = (joined.body as HostJoinResult).broker;
      assert.ok(credentials, 'the host has a broker user of its own');
      assert.equal((await postJson(`${api}/v1/hosts/${hostId}/authorize`, {}, 'POST', admin)).status, 200);
      const role = `grace-${run}`;
      const upload = await fetch(`${api}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip', authorization: `Bearer ${admin}` }, body: await buildRole(fileRole(role, '1.0.0')) });
      assert.equal(upload.status, 201);
      assert.equal((await postJson(`${api}/v1/hosts/${hostId}/roles/${role}`, {}, 'PUT', admin)).status, 200);

      hostConnection = await connectAs(credentials);
      const channel = await hostConnection.createChannel();
      await channel.assertQueue(`pf9.host.${hostId}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });

      // Deauthorized with a role it has not reported removed (no agent runs): it keeps its access for the grace period.
      assert.equal((await postJson(`${api}/v1/hosts/${hostId}/deauthorize`, {}, 'POST', admin)).status, 200);
      killNow(first);
      await first.stop();
      assert.deepEqual(await management.getPermissions(credentials.username), hostPermissions(hostId).vhost, 'the first role store died within the grace period');

      const closed = once(hostConnection, 'close', { signal: AbortSignal.timeout((GRACE_S + 20) * 1000) }).then(
        ([err]) => err as AmqpError | undefined,
        () => assert.fail("the host's connection was still open well after its grace period"),
      );
      second = await startRolestore({ ...env, PF9_API_PORT: '0', PF9_JOIN_PORT: '0' }, { waitForBrokerMs: 15_000 });
      const err = await closed;
      assert.equal(err?.code, CONNECTION_FORCED, `closed by the broker with CONNECTION_FORCED, got ${String(err?.message)}`);
      assert.deepEqual(await management.getPermissions(credentials.username), NO_PERMISSIONS);
      assert.deepEqual(await management.getTopicPermissions(credentials.username), []);
    });
  });
}
