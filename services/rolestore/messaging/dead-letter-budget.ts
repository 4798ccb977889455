import type { ConsumeMessage } from 'amqplib';
import type { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { TokenBuckets } from '../support/token-buckets';

/** What one sender may have copied to pf9.dlx: 20 at once, then one every 6 s (10 a minute). */
export const DEAD_LETTER_BURST = 20;
export const DEAD_LETTER_REFILL_MS = 6_000;

/**
 * A budget of dead-letter copies per sender, for the consumer of what hosts send: past it, a
 * refused message is acked without its copy (and counted), so that one host sending garbage
 * cannot fill pf9.dead and the broker's disk. The sender is the broker-validated user_id,
 * else the host segment of the routing key (which a host's broker user cannot choose).
 */
export function hostDeadLetterBudget(metrics: Pick<RolestoreMetrics, 'deadLettersDropped'>, clock: () => number): (msg: ConsumeMessage) => boolean {
  const buckets = new TokenBuckets(DEAD_LETTER_BURST, DEAD_LETTER_REFILL_MS, clock);
  return (msg) => {
    const userId = msg.properties.userId;
    const sender = typeof userId === 'string' && userId !== '' ? `user:${userId}` : `key:${msg.fields.routingKey.split('.')[1] ?? ''}`;
    if (buckets.take(sender)) return true;
    metrics.deadLettersDropped.inc();
    return false;
  };
}
