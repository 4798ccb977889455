import type { HostState, RoleState } from './wire';
import type { HostHeartbeatEvent } from './messages/host-heartbeat.event';

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
