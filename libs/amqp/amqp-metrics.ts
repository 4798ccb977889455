import { Counter, type Registry } from 'prom-client';

export interface AmqpMetrics {
  consumed: Counter<'kind'>;
  rejected: Counter<'kind' | 'reason'>;
  published: Counter<'kind'>;
  held: Counter<'kind'>;
}

/** Counters by message kind, registered in the service's registry. */
export function createAmqpMetrics(registry: Registry): AmqpMetrics {
  return {
    consumed: new Counter({
      name: 'hostplane_amqp_messages_consumed_total',
      help: 'Messages consumed and handled, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'hostplane_amqp_messages_rejected_total',
      help: 'Messages dead-lettered or answered with an error, by kind and reason',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'hostplane_amqp_messages_published_total',
      help: 'Messages published and confirmed by the broker, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    held: new Counter({
      name: 'hostplane_amqp_messages_held_total',
      help: 'Messages put back in their queue, unprocessed, because a dependency (the database) was unavailable, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
