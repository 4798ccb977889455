import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createAmqpMetrics, type AmqpMetrics } from '#amqp';

/** Every metric the role store exports, in one registry. */
@Injectable()
export class RolestoreMetrics {
  readonly registry = new Registry();
  readonly amqp: AmqpMetrics;
  readonly roleApplies: Counter<'outcome'>;
  readonly applyDuration: Histogram<'outcome'>;
  readonly heartbeatsPersisted: Counter;
  readonly heartbeatBatchSize: Histogram;
  readonly hostSyncsDropped: Counter;
  readonly deadLettersDropped: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hostplane_rolestore_' });
    this.amqp = createAmqpMetrics(this.registry);
    this.roleApplies = new Counter({
      name: 'hostplane_role_applies_total',
      help: 'Role applies reported by hosts, by outcome (applied, failed, removed)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.applyDuration = new Histogram({
      name: 'hostplane_role_apply_duration_seconds',
      help: 'From a change of desired state to the host reporting the outcome',
      labelNames: ['outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [this.registry],
    });
    this.heartbeatsPersisted = new Counter({
      name: 'hostplane_heartbeats_persisted_total',
      help: 'Heartbeats written to the database',
      registers: [this.registry],
    });
    this.heartbeatBatchSize = new Histogram({
      name: 'hostplane_heartbeat_batch_size',
      help: 'Heartbeats written per database transaction',
      buckets: [1, 10, 50, 100, 250, 500, 1000],
      registers: [this.registry],
    });
    this.hostSyncsDropped = new Counter({
      name: 'hostplane_host_syncs_dropped_total',
      help: "host.sync requests dropped unanswered: the host asked more often than its rate allows",
      registers: [this.registry],
    });
    this.deadLettersDropped = new Counter({
      name: 'hostplane_dead_letters_dropped_total',
      help: 'Refused messages of a host not copied to pf9.dlx: the host had used its dead-letter budget',
      registers: [this.registry],
    });
  }

  /** The hosts online, counted at each scrape by whoever knows them (the hosts module). */
  gaugeHostsOnline(countOnline: () => Promise<number>): void {
    let online = 0;
    new Gauge({
      name: 'hostplane_hosts_online',
      help: 'Hosts whose last heartbeat is within the offline threshold',
      registers: [this.registry],
      // While the database is away the gauge keeps its last value: /metrics still answers.
      async collect() {
        online = await countOnline().catch(() => online);
        this.set(online);
      },
    });
  }
}
