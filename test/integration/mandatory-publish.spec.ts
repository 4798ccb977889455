import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Exchanges, Queues } from '#contracts';
import { AmqpConnection, QUEUE_ARGUMENTS, UnroutableError } from '#amqp';
import { Logger } from '#logging';
import { Outbox } from '../../services/hostagent/outbox';
import { StatusReporter } from '../../services/hostagent/status.reporter';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { newHostId, tempDir } from '../support/fixtures';
import { waitFor } from '../support/wait';

const quiet = new Logger('test', 'error', { write: () => undefined });

describe('publishing what matters where no queue takes it yet', () => {
  let raw: RawAmqp;
  let connection: AmqpConnection;

  before(async () => {
    raw = await RawAmqp.open();
    connection = new AmqpConnection({ url: brokerUrl(), appId: 'mandatory-test', logger: quiet });
    await connection.ready(15_000);
  });

  after(async () => {
    await connection?.close();
    await raw?.close();
  });

  test('a mandatory message that no queue takes is refused, not confirmed and dropped', async () => {
    const routingKey = `host.${newHostId()}.nobody-listens`;
    await assert.rejects(connection.publish(Exchanges.events, routingKey, 'role.status', { n: 1 }, { mandatory: true }), UnroutableError);
    await connection.publish(Exchanges.events, routingKey, 'role.status', { n: 2 }); // not mandatory: confirmed, and gone
    const { queue } = await raw.channel.assertQueue('', { exclusive: true });
    await raw.channel.bindQueue(queue, Exchanges.events, routingKey);
    await connection.publish(Exchanges.events, routingKey, 'role.status', { n: 3 }, { mandatory: true });
    await waitFor('the routed message', async () => (await raw.channel.checkQueue(queue)).messageCount === 1);
  });

  test("a role status report sent before the role store's queue exists stays in the outbox and arrives once the queue is there", async () => {
    const hostId = newHostId();
    // As on a broker where the role store has never run.
    await raw.channel.deleteQueue(Queues.rolestoreEvents);
    const outbox = new Outbox(join(await tempDir('mandatory'), 'outbox'), { logger: quiet });
    await outbox.open();
    const reporter = new StatusReporter(hostId, outbox, connection, quiet);
    try {
      await reporter.report({ role: 'web', version: '1.0.0', generation: 3, state: 'applied', message: 'installed' });
      assert.equal(await reporter.flush(), 0, 'nothing counts as sent');
      assert.equal(outbox.size(), 1, 'the report is kept');

      await raw.channel.assertQueue(Queues.rolestoreEvents, { durable: true, arguments: { ...QUEUE_ARGUMENTS } });
      await raw.channel.bindQueue(Queues.rolestoreEvents, Exchanges.events, 'host.*.role-status');
      assert.equal(await reporter.flush(), 1);
      assert.equal(outbox.size(), 0);
      const delivered = await waitFor('the report in the queue', async () => raw.channel.get(Queues.rolestoreEvents, { noAck: true }));
      assert.deepEqual(JSON.parse(delivered.content.toString('utf8')), { hostId, role: 'web', version: '1.0.0', generation: 3, state: 'applied', message: 'installed' });
    } finally {
      reporter.stop();
      await raw.purge(Queues.rolestoreEvents);
    }
  });
});
