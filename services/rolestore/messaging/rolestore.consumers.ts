import type { Channel } from 'amqplib';
import {
  COMMAND_KINDS,
  Exchanges,
  HOST_AUTHORIZE,
  HOST_DEAUTHORIZE,
  HOST_HEARTBEAT,
  HOST_SYNC,
  NODELET_STATUS,
  Queues,
  ROLE_ASSIGN,
  ROLE_STATUS,
  ROLE_UNASSIGN,
  TOKEN_REVIEW,
} from '#contracts';
import { declareQueue } from '#amqp';
import type { RolestoreMetrics } from '../metrics/rolestore.metrics';
import type { AmqpConsumerDefinition } from './amqp.transport';
import { hostDeadLetterBudget } from './dead-letter-budget';
import type { ProcessedMessagesRepository } from './processed-messages.repository';

export const API_KINDS = [HOST_AUTHORIZE, HOST_DEAUTHORIZE, ROLE_ASSIGN, ROLE_UNASSIGN] as const;

/**
 * The role store's queues. Which handler serves a kind is the controllers' business
 * (@MessagePattern, @EventPattern); what each queue takes, and how, is said here.
 */
export function rolestoreConsumers(processed: ProcessedMessagesRepository, metrics: RolestoreMetrics, clock: () => number): AmqpConsumerDefinition[] {
  return [
    {
      // Operator commands: a message without type is the kind its routing key names; a re-sent message_id is answered again, not applied again.
      queue: Queues.rolestoreApi,
      declare: (channel) => declareQueue(channel, Queues.rolestoreApi, API_KINDS.map((kind) => ({ exchange: Exchanges.api, routingKey: kind }))),
      kinds: API_KINDS,
      prefetch: 50,
      kindFromRoutingKey: true,
      idempotency: { store: processed, kinds: COMMAND_KINDS },
      metrics: metrics.amqp,
    },
    {
      queue: Queues.rolestoreEvents,
      declare: (channel) =>
        declareQueue(channel, Queues.rolestoreEvents, [
          { exchange: Exchanges.events, routingKey: 'host.*.heartbeat' },
          { exchange: Exchanges.events, routingKey: 'host.*.role-status' },
          { exchange: Exchanges.events, routingKey: 'host.*.sync' },
          { exchange: Exchanges.events, routingKey: 'host.*.nodelet' },
        ]),
      kinds: [HOST_HEARTBEAT, ROLE_STATUS, HOST_SYNC, NODELET_STATUS],
      // Heartbeats are acked by the batch: the prefetch bounds how many wait for one.
      prefetch: 1000,
      deadLetterBudget: hostDeadLetterBudget(metrics, clock),
      metrics: metrics.amqp,
    },
    {
      // A bearer token is in every body: no copy of one is ever kept (never pf9.dead), and none waits while no role store is there.
      queue: Queues.rolestoreTokenReview,
      declare: declareTokenReviewQueue,
      kinds: [TOKEN_REVIEW],
      prefetch: 50,
      deadLetterBudget: () => false,
      metrics: metrics.amqp,
    },
  ];
}

/**
 * Not durable, deleted with its last consumer, and without a dead-letter exchange: a review
 * the plane cannot answer is not routed at all (bouncer publishes it mandatory and knows at
 * once), and one the broker drops (its expiration, a reject) is gone, not copied anywhere.
 * Not exclusive, so that every role store on the broker shares it.
 */
async function declareTokenReviewQueue(channel: Channel): Promise<void> {
  await channel.assertQueue(Queues.rolestoreTokenReview, { durable: false, autoDelete: true });
  await channel.bindQueue(Queues.rolestoreTokenReview, Exchanges.events, 'host.*.token-review');
}
