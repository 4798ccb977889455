import type { HostState, RoleState } from './wire';
import type { HostHeartbeatEvent } from './messages/host-heartbeat.event';
import type { NodeletNodeState, NodeletPhaseState } from './messages/nodelet-status.event';

// REST API shapes of CONTRACT.md section 5.

export interface HostSummaryView {
  id: string;
  hostname: string;
  state: HostState;
  online: boolean;
  lastHeartbeatAt: string | null;
}

export interface HostRoleView {
  name: string;
  version: string;
  config: Record<string, unknown>;
  desiredGeneration: number;
  appliedGeneration: number | null;
  state: RoleState | 'pending';
  message: string | null;
  /** Failed attempts in a row at the desired generation, as the host last reported (the agent retries with backoff). */
  failures: number;
}

/**
 * The answer to `POST /v1/hosts/:id/roles/:role/retry` (the project's own, beside contract v1):
 * the host's generation does not move, the role's retry token does (sent in the desired state).
 */
export interface RoleRetryResult {
  hostId: string;
  role: string;
  generation: number;
  retry: number;
}

export interface HostDetailView extends HostSummaryView {
  info: HostHeartbeatEvent | null;
  roles: HostRoleView[];
  /** nodelet's state on the host (the pf9-kube role), or null when it never reported one. */
  nodelet: HostNodeletView | null;
}

export interface HostNodeletPhaseView {
  order: number;
  name: string;
  state: NodeletPhaseState;
  message: string;
  attempts: number;
}

export interface HostNodeletEtcdBackupView {
  lastSuccessAt: string | null;
  sizeBytes: number | null;
  revision: number | null;
  lastFailureAt: string | null;
  lastError: string | null;
  expectedIntervalS: number;
  /** No verified snapshot within twice the expected interval (or none at all after a failure), as of this answer. */
  stale: boolean;
  warning: string | null;
}

export interface HostNodeletView {
  state: Exclude<NodeletNodeState, 'none'>;
  clusterId: string;
  role: string;
  attempt: number;
  phases: HostNodeletPhaseView[];
  /** When the host sent it. */
  reportedAt: string;
  kubeServiceState: string | null;
  configError: string | null;
  hold: boolean;
  etcdBackup: HostNodeletEtcdBackupView | null;
}

export interface RoleUploadView {
  name: string;
  version: string;
  sha256: string;
}

export interface RoleVersionView {
  version: string;
  sha256: string;
  uploadedAt: string;
}

export interface RoleView {
  name: string;
  versions: RoleVersionView[];
}

export interface HttpErrorView {
  error: { code: string; message: string; details: unknown[] };
}
