import { Counter, Gauge, Registry } from 'prom-client';
import { NODE_STATES, type KubeStatus } from './status-file';

/** nodelet's Prometheus metrics (its own registry: no default process collectors, to stay small). */
export class NodeletMetrics {
  readonly registry = new Registry();
  readonly nodeState = new Gauge({ name: 'nodelet_node_state', help: '1 for the node state nodelet is in (converging, ok, retrying, failed)', labelNames: ['state'], registers: [this.registry] });
  readonly startAttempt = new Gauge({ name: 'nodelet_start_attempt', help: 'The start attempt under way or last made; 0 once the node is up', registers: [this.registry] });
  readonly phaseRuns = new Counter({ name: 'nodelet_phase_runs_total', help: 'Phase operations run, by operation and outcome', labelNames: ['op', 'outcome'], registers: [this.registry] });
  readonly configValid = new Gauge({ name: 'nodelet_config_valid', help: '1 while the configuration on disk is the one running, 0 while a bad file is refused', registers: [this.registry] });
  readonly backups = new Counter({ name: 'nodelet_etcd_backups_total', help: 'etcd snapshots attempted, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly lastBackup = new Gauge({ name: 'nodelet_etcd_backup_last_success_timestamp_seconds', help: 'When the last verified etcd snapshot was taken', registers: [this.registry] });
  readonly backupStale = new Gauge({ name: 'nodelet_etcd_backup_stale', help: '1 when no verified snapshot came within twice the expected interval', registers: [this.registry] });

  observe(status: KubeStatus): void {
    for (const state of NODE_STATES) this.nodeState.set({ state }, status.pf9_kube_node_state === state ? 1 : 0);
    this.startAttempt.set(status.pf9_kube_start_attempt);
    this.configValid.set(status.nodelet_config_error === null ? 1 : 0);
    const backup = status.etcd_backup;
    if (backup?.last_success_at) this.lastBackup.set(new Date(backup.last_success_at).getTime() / 1000);
    if (backup) this.backupStale.set(backup.stale ? 1 : 0);
  }
}
