import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Exchanges, ROLE_STATUS, type RoleStatusEvent } from '#contracts';
import { AmqpConnection, MessageConsumer, QUEUE_ARGUMENTS, UnavailableError } from '#amqp';
import { Logger } from '#logging';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { newHostId } from '../support/fixtures';
import { waitFor } from '../support/wait';

describe('the consumer while a dependency is away (UnavailableError)', () => {
  let raw: RawAmqp;
  let dead: Capture;
  let connection: AmqpConnection;
  const queue = `pf9.test.unavailable.${randomUUID()}`;
  const hostId = newHostId();
  /** The dependency the handler needs: away until the test brings it back. */
  let dependencyUp = false;
  const calls: number[] = [];
  const handled: string[] = [];

  before(async () => {
    raw = await RawAmqp.open();
    connection = new AmqpConnection({ url: brokerUrl(), appId: 'consumer-unavailable-test', logger: new Logger('test', 'error') });
    const consumer = new MessageConsumer(connection, {
      queue,
      declare: async (channel) => {
        await channel.assertQueue(queue, { durable: false, autoDelete: true, arguments: { ...QUEUE_ARGUMENTS } });
        await channel.bindQueue(queue, Exchanges.events, `host.${hostId}.role-status`);
      },
      handlers: {
        [ROLE_STATUS]: async (message: RoleStatusEvent) => {
          calls.push(Date.now());
          if (!dependencyUp) throw new UnavailableError('database');
          handled.push(message.role);
        },
      },
      prefetch: 10,
      logger: new Logger('test', 'error'),
      unavailableBackoff: { initialMs: 100, maxMs: 800 },
    });
    await consumer.start();
    // The connection declares the contract's exchanges, pf9.dlx among them.
    await connection.ready(15_000);
    dead = await raw.capture(Exchanges.deadLetter, '');
  });

  after(async () => {
    await connection?.close();
    await raw?.close();
  });

  test('messages are neither dead-lettered nor lost: they wait, with pauses that grow, and are handled once it is back', async () => {
    const roles = ['a', 'b', 'c', 'd', 'e'];
    const ids: string[] = roles.map(() => randomUUID());
    for (const [i, role] of roles.entries()) {
      const body: RoleStatusEvent = { hostId, role, version: '1.0.0', generation: 1, state: 'applied' };
      await raw.publish(Exchanges.events, `host.${hostId}.role-status`, body, { type: ROLE_STATUS, contentType: 'application/json', messageId: ids[i], persistent: true });
    }
    // Away for 4 s: a consumer that retries once would have dead-lettered every message many times over.
    await waitFor('the handler to be tried', () => calls.length > 0);
    const awayUntil = Date.now() + 4000;
    await waitFor('4 s with the dependency away', () => Date.now() >= awayUntil, { timeoutMs: 6000 });
    const triesWhileAway = calls.length;
    const rounds = calls.filter((at, i) => i === 0 || at - calls[i - 1]! > 50);
    const pauses = rounds.slice(1).map((at, i) => at - rounds[i]!);
    dependencyUp = true;
    await waitFor('every message handled once the dependency is back', () => handled.length >= roles.length, { timeoutMs: 5000 });
    assert.deepEqual([...handled].sort(), roles, 'each message handled exactly once');
    assert.equal(dead.messages.filter((m) => ids.includes(String(m.properties.messageId))).length, 0, 'nothing dead-lettered');
    // Pauses of 100, 200, 400, 800, 800 … ms: a handful of rounds of at most 5 tries, not a spin.
    assert.ok(triesWhileAway <= 5 * 12, `tried ${triesWhileAway} times in 4 s`);
    assert.ok(rounds.length >= 4, `${rounds.length} rounds in 4 s: the messages are tried again while it is away`);
    assert.ok(pauses[0]! < 400 && Math.max(...pauses) >= 600, `the pauses grow: ${pauses.join(', ')} ms`);
    const status = await raw.channel.checkQueue(queue);
    assert.equal(status.messageCount, 0, 'the queue is empty');
  });
});
