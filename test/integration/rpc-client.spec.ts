import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { Exchanges, TOKEN_REVIEW } from '#contracts';
import { AmqpConnection, NotConnectedError, RequestTimeoutError, RpcClient, UnroutableError } from '#amqp';
import { Logger } from '#logging';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

/** libs/amqp's RpcClient against the real broker: what a requester needs to tell apart, and recovery after a refusal. */
describe('RpcClient', () => {
  const run = randomBytes(4).toString('hex');
  const answered = `host.rpc-${run}.token-review`;
  const silent = `host.rpc-${run}-silent.token-review`;
  let responder: ChannelModel;
  let connection: AmqpConnection;
  let rpc: RpcClient;
  let connects = 0;

  before(async () => {
    responder = await amqp.connect(brokerUrl());
    const channel: Channel = await responder.createChannel();
    await channel.assertExchange(Exchanges.events, 'topic', { durable: true });
    for (const key of [answered, silent]) {
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, Exchanges.events, key);
      await channel.consume(queue, (msg) => {
        if (!msg || key === silent) return;
        const reply = { ok: true, result: { authenticated: false, userId: msg.properties.userId ?? null } };
        channel.publish('', String(msg.properties.replyTo), Buffer.from(JSON.stringify(reply)), { correlationId: msg.properties.correlationId as string });
      }, { noAck: true });
    }
    connection = new AmqpConnection({ url: brokerUrl(), appId: 'rpc-test', logger: new Logger('rpc-test', 'error') });
    connection.on('connected', () => connects++);
    rpc = new RpcClient(connection);
    await rpc.start();
    await connection.ready();
  });

  after(async () => {
    await connection?.close();
    await responder?.close();
  });

  const ask = (routingKey: string, options: { userId?: string; timeoutMs?: number } = {}) =>
    rpc.request(Exchanges.events, routingKey, TOKEN_REVIEW, { hostId: 'h1', token: 't' }, { timeoutMs: 1000, expirationMs: 1000, persistent: false, ...options });

  test('answers with the reply, carrying the user_id the broker validated', async () => {
    const guest = new URL(brokerUrl()).username || 'guest';
    assert.deepEqual(await ask(answered, { userId: guest }), { ok: true, result: { authenticated: false, userId: guest } });
  });

  test('tells a request no queue takes (at once) from one nobody answers (after the timeout)', async () => {
    const started = Date.now();
    await assert.rejects(ask(`host.rpc-${run}-nobody.token-review`), UnroutableError);
    assert.ok(Date.now() - started < 500);
    await assert.rejects(ask(silent, { timeoutMs: 300 }), RequestTimeoutError);
  });

  test('a request the broker refuses (a user_id not its own) fails, and the next one goes through on the same connection', async () => {
    await assert.rejects(ask(answered, { userId: 'someone-else' }), NotConnectedError);
    const guest = new URL(brokerUrl()).username || 'guest';
    // The channel is reopened in the background: a moment.
    const reply = await waitFor('a request through the reopened channel', () => ask(answered, { userId: guest }), { timeoutMs: 5_000 });
    assert.equal(reply.ok, true);
    assert.equal(connects, 1, 'no reconnect was needed');
  });
});
