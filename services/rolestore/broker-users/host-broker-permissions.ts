import { Exchanges, HOST_ID_PATTERN, Queues } from '#contracts';
import type { OperatorPolicy, TopicPermissions, VhostPermissions } from './rabbitmq-management.client';

/**
 * What a host's broker user may do, checked by the broker itself (RabbitMQ 3.10, verified
 * by test/integration/broker-users.spec.ts). For host H (regex metacharacters escaped):
 *
 *   configure  ^pf9\.host\.H$                    declare (and delete) its own queue only
 *   write      ^(pf9\.host\.H|pf9\.events|pf9\.dlx)$
 *                pf9.host.H: queue.bind needs write on the queue;
 *                pf9.events: publish its events;
 *                pf9.dlx:    publish refused messages' copies, and declaring a queue with
 *                            x-dead-letter-exchange needs write on that exchange
 *   read       ^(pf9\.host\.H|pf9\.control)$
 *                pf9.host.H: consume it, and x-dead-letter-exchange needs read on the queue;
 *                pf9.control: queue.bind needs read on the source exchange
 *   topic pf9.events   write ^host\.H\.   read ^$   (publish routing keys: its own only)
 *   topic pf9.control  write ^$   read ^host\.H\.   (binding keys: its own only; the broker
 *                                                    checks topic read at queue.bind)
 *
 * Nothing may configure an exchange: the plane declares the topology, hosts must not
 * (exchange.declare of an existing exchange needs configure on it too).
 *
 * The `\.` after H keeps host "ab" from matching "ab-c"'s keys. Topic permissions are
 * only consulted for exchanges that have an entry (no entry: every key allowed), which
 * is why grant sets them before the vhost permissions and revoke removes them after.
 */
export function hostPermissions(hostId: string): { vhost: VhostPermissions; topics: TopicPermissions[] } {
  const queue = escapeRegex(Queues.host(hostId));
  const events = escapeRegex(Exchanges.events);
  const control = escapeRegex(Exchanges.control);
  const dlx = escapeRegex(Exchanges.deadLetter);
  const ownKeys = `^host\\.${escapeRegex(hostId)}\\.`;
  return {
    vhost: {
      configure: `^${queue}$`,
      write: `^(${queue}|${events}|${dlx})$`,
      read: `^(${queue}|${control})$`,
    },
    topics: [
      { exchange: Exchanges.events, write: ownKeys, read: '^$' },
      { exchange: Exchanges.control, write: '^$', read: ownKeys },
    ],
  };
}

/**
 * An unauthorized (or deauthorized) host: it may open a connection to the vhost and do
 * nothing on it. RabbitMQ refuses a connection to a vhost where the user has no
 * permissions entry at all, and takes '' as "matches nothing".
 */
export const NO_PERMISSIONS: VhostPermissions = { configure: '', write: '', read: '' };

export function assertHostId(hostId: string): void {
  if (!HOST_ID_PATTERN.test(hostId)) throw new Error(`not a host id: ${JSON.stringify(hostId)}`);
}

/** Escapes PCRE metacharacters (RabbitMQ matches permissions with Erlang's re, i.e. PCRE). */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}-]/g, '\\$&');
}

/**
 * What one host's broker user may hold open at once, over all its connections: enough for
 * the host's daemons (the agent has one connection, two channels), not for a flood.
 */
export const HOST_USER_LIMITS = { 'max-connections': 8, 'max-channels': 32 } as const;

/**
 * Bounds of the queues a host can make grow, as operator policies (they merge with any
 * policy of the operator's, the stricter value winning, and need no queue declared again with
 * other arguments). A host's queue: what the plane sends it, the whole desired state each
 * time, so the newest messages are all it needs (the broker drops the oldest first).
 * pf9.dead: the copies of refused messages, which hosts can cause.
 */
export const QUEUE_BOUNDS: readonly OperatorPolicy[] = [
  { name: 'pf9-host-queues', pattern: `^${escapeRegex(Queues.host(''))}`, definition: { 'max-length': 100, 'max-length-bytes': 16 * 1024 * 1024 } },
  { name: 'pf9-dead-letters', pattern: `^${escapeRegex(Queues.dead)}$`, definition: { 'max-length': 10_000, 'max-length-bytes': 256 * 1024 * 1024 } },
];
