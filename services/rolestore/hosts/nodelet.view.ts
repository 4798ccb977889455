import type { HostNodeletEtcdBackupView, HostNodeletView, NodeletStatusEvent } from '#contracts';
import type { HostNodeletStatus } from './hosts.repository';

/** The host view's `nodelet`: the newest status the host sent, with the backup's staleness as of `now`. */
export function nodeletView(nodelet: HostNodeletStatus, now: number): HostNodeletView | null {
  const event = nodelet.status;
  if (event.state === 'none') return null;
  return {
    state: event.state,
    clusterId: event.clusterId,
    role: event.role,
    attempt: event.attempt,
    phases: event.phases.map((p) => ({ order: p.order, name: p.name, state: p.state, message: p.message, attempts: p.attempts })),
    reportedAt: new Date(nodelet.sentMs).toISOString(),
    kubeServiceState: event.kubeServiceState ?? null,
    configError: event.configError ?? null,
    hold: event.hold ?? false,
    etcdBackup: event.etcdBackup ? etcdBackupView(event.etcdBackup, now) : null,
  };
}

function etcdBackupView(backup: NonNullable<NodeletStatusEvent['etcdBackup']>, now: number): HostNodeletEtcdBackupView {
  const last = backup.lastSuccessAt ? Date.parse(backup.lastSuccessAt) : null;
  const failedSince = backup.lastFailureAt !== undefined && (last === null || Date.parse(backup.lastFailureAt) > last);
  // Judged here, at every answer: a host that stopped reporting still shows its backup going stale.
  const stale = last === null ? backup.lastFailureAt !== undefined : now - last > 2 * backup.expectedIntervalS * 1000;
  let warning: string | null = null;
  if (stale) {
    warning =
      last === null
        ? `no etcd backup has succeeded yet${backup.lastError ? `: ${backup.lastError}` : ''}`
        : `the last etcd backup is from ${backup.lastSuccessAt}, more than twice the expected ${backup.expectedIntervalS} s ago${failedSince && backup.lastError ? `; the last attempt failed: ${backup.lastError}` : ''}`;
  }
  return {
    lastSuccessAt: backup.lastSuccessAt ?? null,
    sizeBytes: backup.sizeBytes ?? null,
    revision: backup.revision ?? null,
    lastFailureAt: backup.lastFailureAt ?? null,
    lastError: backup.lastError ?? null,
    expectedIntervalS: backup.expectedIntervalS,
    stale,
    warning,
  };
}
