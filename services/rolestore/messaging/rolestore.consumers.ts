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
} from '#contracts';
import { declareQueue, MessageConsumer, type AmqpConnection, type HandlerMap } from '#amqp';
import type { Logger } from '#logging';
import type { AssignmentsService } from '../assignments/assignments.service';
import type { HostsService } from '../hosts/hosts.service';
import { assertSender, type HostEventsService } from '../ingest/host-events.service';
import type { HeartbeatIngester } from '../ingest/heartbeat.ingester';
import type { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { hostDeadLetterBudget } from './dead-letter-budget';
import type { OperatorAccess } from './operator-access';
import type { ProcessedMessagesRepository } from './processed-messages.repository';

export interface RolestoreHandlers {
  hosts: HostsService;
  assignments: AssignmentsService;
  hostEvents: HostEventsService;
  heartbeats: HeartbeatIngester;
  access: OperatorAccess;
  /** Hosts have their own broker users: every host event must carry the sender's user_id. */
  requireBrokerUser: boolean;
}

/** The pf9.api commands, one line each, behind the operator access check. */
export function apiHandlers(h: RolestoreHandlers): HandlerMap {
  return {
    [HOST_AUTHORIZE]: async (m, ctx) => (h.access.assertAllowed({ transport: 'amqp', userId: ctx.userId }), h.hosts.authorize(m)),
    [HOST_DEAUTHORIZE]: async (m, ctx) => (h.access.assertAllowed({ transport: 'amqp', userId: ctx.userId }), h.hosts.deauthorize(m)),
    [ROLE_ASSIGN]: async (m, ctx) => (h.access.assertAllowed({ transport: 'amqp', userId: ctx.userId }), h.assignments.assign(m)),
    [ROLE_UNASSIGN]: async (m, ctx) => (h.access.assertAllowed({ transport: 'amqp', userId: ctx.userId }), h.assignments.unassign(m)),
  };
}

/** What hosts send on pf9.events. */
export function eventHandlers(h: RolestoreHandlers): HandlerMap {
  return {
    [HOST_HEARTBEAT]: async (m, ctx) => (assertSender(m.hostId, ctx, h.requireBrokerUser), h.heartbeats.ingest(m)),
    [ROLE_STATUS]: async (m, ctx) => (assertSender(m.hostId, ctx, h.requireBrokerUser), h.hostEvents.roleStatus(m)),
    [HOST_SYNC]: async (m, ctx) => (assertSender(m.hostId, ctx, h.requireBrokerUser), h.hostEvents.sync(m)),
    [NODELET_STATUS]: async (m, ctx) => (assertSender(m.hostId, ctx, h.requireBrokerUser), h.hostEvents.nodeletStatus(m)),
  };
}

export function createConsumers(
  connection: AmqpConnection,
  handlers: RolestoreHandlers,
  processed: ProcessedMessagesRepository,
  metrics: RolestoreMetrics,
  logger: Logger,
): MessageConsumer[] {
  const api = new MessageConsumer(connection, {
    queue: Queues.rolestoreApi,
    declare: (channel) =>
      declareQueue(
        channel,
        Queues.rolestoreApi,
        [HOST_AUTHORIZE, HOST_DEAUTHORIZE, ROLE_ASSIGN, ROLE_UNASSIGN].map((kind) => ({ exchange: Exchanges.api, routingKey: kind })),
      ),
    handlers: apiHandlers(handlers),
    prefetch: 50,
    kindFromRoutingKey: true,
    idempotency: { store: processed, kinds: COMMAND_KINDS },
    metrics: metrics.amqp,
    logger,
  });
  const events = new MessageConsumer(connection, {
    queue: Queues.rolestoreEvents,
    declare: (channel) =>
      declareQueue(channel, Queues.rolestoreEvents, [
        { exchange: Exchanges.events, routingKey: 'host.*.heartbeat' },
        { exchange: Exchanges.events, routingKey: 'host.*.role-status' },
        { exchange: Exchanges.events, routingKey: 'host.*.sync' },
        { exchange: Exchanges.events, routingKey: 'host.*.nodelet' },
      ]),
    handlers: eventHandlers(handlers),
    // Heartbeats are acked by the batch: the prefetch bounds how many wait for one.
    prefetch: 1000,
    deadLetterBudget: hostDeadLetterBudget(metrics),
    metrics: metrics.amqp,
    logger,
  });
  return [api, events];
}
