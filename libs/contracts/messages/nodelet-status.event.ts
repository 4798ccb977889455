import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsCount, Nested } from '../validation';
import { HOST_ID_PATTERN } from '../wire';

/**
 * nodelet's state on a host (rk `host.<hostId>.nodelet`): the node state and every phase,
 * sent by the host agent from nodelet's status file on change and at most once per
 * LOOP_INTERVAL. `none`: nodelet holds no state (no configuration, or removed).
 */
export const NODELET_STATUS = 'nodelet.status';

export const NODELET_NODE_STATES = ['converging', 'ok', 'retrying', 'failed', 'none'] as const;
export type NodeletNodeState = (typeof NODELET_NODE_STATES)[number];
export const NODELET_PHASE_STATES = ['not-started', 'executing', 'running', 'stopped', 'failed'] as const;
export type NodeletPhaseState = (typeof NODELET_PHASE_STATES)[number];
export const NODELET_ROLES = ['master', 'worker', 'none'] as const;
export type NodeletRole = (typeof NODELET_ROLES)[number];

export class NodeletPhase {
  @IsInt() @Min(0) @Max(999_999) order!: number;
  @IsString() @MaxLength(128) name!: string;
  @IsIn(NODELET_PHASE_STATES) state!: NodeletPhaseState;
  /** The last lines a failed operation printed. */
  @IsString() @MaxLength(4096) message!: string;
  @IsCount() attempts!: number;
}

/** The last etcd snapshot nodelet took and verified (masters with backups). */
export class NodeletEtcdBackup {
  @IsOptional() @IsISO8601() lastSuccessAt?: string;
  @IsOptional() @IsCount() sizeBytes?: number;
  @IsOptional() @IsCount() revision?: number;
  @IsOptional() @IsString() @MaxLength(1024) file?: string;
  @IsOptional() @IsISO8601() lastFailureAt?: string;
  @IsOptional() @IsString() @MaxLength(1024) lastError?: string;
  /** How often a snapshot is expected: past twice this, the backup is stale. */
  @IsInt() @Min(1) expectedIntervalS!: number;
}

export class NodeletStatusEvent {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  /** When the host agent sent it: the plane keeps the newest. */
  @IsISO8601() sentAt!: string;
  @IsIn(NODELET_NODE_STATES) state!: NodeletNodeState;
  @IsString() @MaxLength(256) clusterId!: string;
  @IsIn(NODELET_ROLES) role!: NodeletRole;
  /** The start attempt under way or last made; 0 once the node is up. */
  @IsCount() attempt!: number;

  @IsArray()
  @ArrayMaxSize(256)
  @Nested(() => NodeletPhase, { each: true })
  phases!: NodeletPhase[];

  /** KUBE_SERVICE_STATE in force. */
  @IsOptional() @IsIn(['true', 'false', 'ignore']) kubeServiceState?: 'true' | 'false' | 'ignore';
  /** Why nodelet refuses the configuration on disk (it runs the one before). */
  @IsOptional() @IsString() @MaxLength(4096) configError?: string;
  /** An operator's `nodeletd phases stop` holds the node. */
  @IsOptional() @IsBoolean() hold?: boolean;
  @IsOptional() @Nested(() => NodeletEtcdBackup) etcdBackup?: NodeletEtcdBackup;
}
