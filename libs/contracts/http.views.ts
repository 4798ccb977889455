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

/**
 * How a host logs in to the broker: `own`, its own broker user (it acts only as itself);
 * `shared-insecure`, a user hosts share (PF9_INSECURE_SHARED_BROKER_USER: it can act as any of
 * them); `none`, neither (the plane does not admit it: it must register again).
 */
export type HostBrokerIdentity = 'own' | 'shared-insecure' | 'none';

export interface HostDetailView extends HostSummaryView {
  info: HostHeartbeatEvent | null;
  roles: HostRoleView[];
  /** nodelet's state on the host (the pf9-kube role), or null when it never reported one. */
  nodelet: HostNodeletView | null;
  /** Added beside version 1: how the host logs in to the broker. */
  brokerIdentity: HostBrokerIdentity;
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

/**
 * `DELETE /v1/hosts/:id` (added beside version 1): the host is decommissioned. Its roles and
 * record are gone, its broker user deleted (`pending`: the management API did not take the
 * call; tried again until it does), its certificate revoked and its open tunnels closed.
 */
export interface HostDecommissionView {
  hostId: string;
  state: 'decommissioned';
  brokerUser: 'deleted' | 'pending' | 'none';
  certificateRevoked: boolean;
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
