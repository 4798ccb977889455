import type { Channel } from 'amqplib';
import { Exchanges, Queues, RoutingKeys } from '#contracts';

/** Declares the exchanges of CONTRACT.md section 2 and the dead-letter queue; idempotent. */
export async function declareExchanges(channel: Channel): Promise<void> {
  await channel.assertExchange(Exchanges.api, 'direct', { durable: true });
  await channel.assertExchange(Exchanges.events, 'topic', { durable: true });
  await channel.assertExchange(Exchanges.control, 'topic', { durable: true });
  await channel.assertExchange(Exchanges.deadLetter, 'fanout', { durable: true });
  await channel.assertQueue(Queues.dead, { durable: true });
  await channel.bindQueue(Queues.dead, Exchanges.deadLetter, '');
}

/** Arguments every consuming queue of ours carries: broker-side dead letters go to pf9.dlx too. */
export const QUEUE_ARGUMENTS = { 'x-dead-letter-exchange': Exchanges.deadLetter } as const;

/** A host's own durable queue, bound to pf9.control with host.<hostId>.# */
export async function declareHostQueue(channel: Channel, hostId: string): Promise<string> {
  const queue = Queues.host(hostId);
  await channel.assertQueue(queue, { durable: true, arguments: { ...QUEUE_ARGUMENTS } });
  await channel.bindQueue(queue, Exchanges.control, RoutingKeys.hostControlBinding(hostId));
  return queue;
}

export interface QueueBinding {
  exchange: string;
  routingKey: string;
}

export async function declareQueue(channel: Channel, queue: string, bindings: QueueBinding[]): Promise<void> {
  await channel.assertQueue(queue, { durable: true, arguments: { ...QUEUE_ARGUMENTS } });
  for (const binding of bindings) await channel.bindQueue(queue, binding.exchange, binding.routingKey);
}
