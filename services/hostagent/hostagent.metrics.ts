import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createAmqpMetrics, type AmqpMetrics } from '#amqp';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly amqp: AmqpMetrics;
  readonly heartbeats: Counter<'outcome'>;
  readonly applies: Counter<'outcome'>;
  readonly applyDuration: Histogram<'outcome'>;
  readonly hookRuns: Counter<'hook' | 'outcome'>;
  readonly corrections: Counter<'kind'>;
  readonly outboxSize: Gauge;
  readonly outboxWriteFailures: Counter<'code'>;
  readonly reportsInMemory: Gauge;
  readonly reportsDropped: Counter;
  readonly certificateExpiry: Gauge;
  readonly certificateRenewals: Counter<'outcome'>;
  readonly controlRefused: Counter<'reason'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hostplane_hostagent_' });
    this.amqp = createAmqpMetrics(this.registry);
    const registers = [this.registry];
    this.heartbeats = new Counter({ name: 'hostplane_heartbeats_sent_total', help: 'Heartbeats sent, by outcome', labelNames: ['outcome'], registers });
    this.applies = new Counter({ name: 'hostplane_role_applies_total', help: 'Role applies on this host, by outcome', labelNames: ['outcome'], registers });
    this.applyDuration = new Histogram({
      name: 'hostplane_role_apply_duration_seconds',
      help: 'Time to apply a role on this host, by outcome',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.hookRuns = new Counter({ name: 'hostplane_hook_runs_total', help: 'Role hooks run, by hook and outcome', labelNames: ['hook', 'outcome'], registers });
    this.corrections = new Counter({ name: 'hostplane_corrections_total', help: 'Corrections made by the periodic check (restart, drift)', labelNames: ['kind'], registers });
    this.outboxSize = new Gauge({ name: 'hostplane_outbox_entries', help: 'Reports waiting on disk for the broker', registers });
    this.outboxWriteFailures = new Counter({
      name: 'hostplane_outbox_write_failures_total',
      help: 'Status reports the outbox could not write (the disk full or failing), by error code',
      labelNames: ['code'],
      registers,
    });
    this.reportsInMemory = new Gauge({ name: 'hostplane_outbox_memory_entries', help: 'Status reports kept in memory until the outbox can take them or the broker has them', registers });
    this.reportsDropped = new Counter({ name: 'hostplane_status_reports_dropped_total', help: 'Status reports dropped because too many waited in memory for the disk', registers });
    this.certificateExpiry = new Gauge({ name: 'hostplane_hostagent_certificate_expiry_timestamp_seconds', help: 'When the host certificate expires (Unix time)', registers });
    this.controlRefused = new Counter({
      name: 'hostplane_hostagent_control_refused_total',
      help: "Desired states not applied, by reason: forbidden (not from the plane's broker user), stale, gap (ahead of the one held, unconfirmed)",
      labelNames: ['reason'],
      registers,
    });
    this.certificateRenewals = new Counter({ name: 'hostplane_hostagent_certificate_renewals_total', help: 'Host certificate renewals, by outcome (renewed, failed)', labelNames: ['outcome'], registers });
  }
}
