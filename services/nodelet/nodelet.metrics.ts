import { NODE_STATES, type KubeStatus } from './status-file';

type Labels = Record<string, string>;

/** One counter or gauge in Prometheus' text format (nodelet has a handful: prom-client would cost it a fifth of its memory budget). */
class Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge',
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = JSON.stringify(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  set(labels: Labels, value: number): void {
    this.values.set(JSON.stringify(labels), { labels, value });
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.values.values()) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
      lines.push(`${this.name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${value}`);
    }
    return lines.join('\n');
  }
}

/** nodelet's Prometheus metrics, served at /metrics. */
export class NodeletMetrics {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  readonly nodeState = new Metric('nodelet_node_state', '1 for the node state nodelet is in (converging, ok, retrying, failed)', 'gauge');
  readonly startAttempt = new Metric('nodelet_start_attempt', 'The start attempt under way or last made; 0 once the node is up', 'gauge');
  readonly phaseRuns = new Metric('nodelet_phase_runs_total', 'Phase operations run, by operation and outcome', 'counter');
  readonly configValid = new Metric('nodelet_config_valid', '1 while the configuration on disk is the one running, 0 while a bad file is refused', 'gauge');
  readonly backups = new Metric('nodelet_etcd_backups_total', 'etcd snapshots attempted, by outcome', 'counter');
  readonly lastBackup = new Metric('nodelet_etcd_backup_last_success_timestamp_seconds', 'When the last verified etcd snapshot was taken', 'gauge');
  readonly backupStale = new Metric('nodelet_etcd_backup_stale', '1 when no verified snapshot came within twice the expected interval', 'gauge');
  private readonly all = [this.nodeState, this.startAttempt, this.phaseRuns, this.configValid, this.backups, this.lastBackup, this.backupStale];

  observe(status: KubeStatus): void {
    for (const state of NODE_STATES) this.nodeState.set({ state }, status.pf9_kube_node_state === state ? 1 : 0);
    this.startAttempt.set({}, status.pf9_kube_start_attempt);
    this.configValid.set({}, status.nodelet_config_error === null ? 1 : 0);
    const backup = status.etcd_backup;
    if (backup?.last_success_at) this.lastBackup.set({}, new Date(backup.last_success_at).getTime() / 1000);
    if (backup) this.backupStale.set({}, backup.stale ? 1 : 0);
  }

  async metrics(): Promise<string> {
    return `${this.all.map((m) => m.render()).join('\n')}\n`;
  }
}
