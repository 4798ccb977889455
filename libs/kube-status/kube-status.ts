// The status file nodelet writes at var/opt/pf9/kube_status (Platform9's extension file):
// nodelet writes it, the host agent reads it and tells the plane. Its keys are what other
// programs on a host rely on: do not rename them.
export const NODE_STATES = ['converging', 'ok', 'retrying', 'failed'] as const;
export type NodeState = (typeof NODE_STATES)[number];
export const PHASE_STATES = ['not-started', 'executing', 'running', 'stopped', 'failed'] as const;
export type PhaseState = (typeof PHASE_STATES)[number];

export interface PhaseStatus {
  order: number;
  name: string;
  state: PhaseState;
  /** The last lines a failed operation printed; empty once it succeeds. */
  message: string;
  /** How many times its start ran in the current series of attempts. */
  attempts: number;
}

/** The last etcd backup as nodelet reports it (with the nodelet event, to the plane). */
export interface EtcdBackupStatus {
  last_success_at?: string;
  last_success_file?: string;
  last_success_size_bytes?: number;
  last_success_revision?: number;
  last_failure_at?: string;
  last_error?: string;
  /** How often a backup is expected, in seconds: what "stale" is measured against. */
  expected_interval_s: number;
  /** Past twice the expected interval without a success. */
  stale: boolean;
}

/**
 * `var/opt/pf9/kube_status`: Platform9's keys (pf9_* and the task lists) with their
 * meaning, a `phases` list, and nodelet's own keys (nodelet_*) beside them.
 */
export interface KubeStatus {
  pf9_kube_service_state: 'true' | 'false';
  pf9_kube_node_state: NodeState;
  /** The number of the start attempt under way or last made; 0 once the node is up. */
  pf9_kube_start_attempt: number;
  pf9_cluster_id: string;
  pf9_cluster_role: string;
  all_status_checks: string[];
  all_tasks: string[];
  completed_tasks: string[];
  current_status_check: string;
  current_task: string;
  last_failed_status_check: string;
  /** Unix seconds; 0 when none. */
  last_failed_status_time: number;
  last_failed_task: string;
  /** Unix seconds of the last status pass. */
  status_check_timestamp: number;
  phases: PhaseStatus[];
  /** KUBE_SERVICE_STATE in effect: true, false or ignore. */
  nodelet_kube_service_state: string;
  nodelet_phases_dir: string;
  /** The phases' file names, in the order of `phases`. */
  nodelet_phase_files: string[];
  /** Why the configuration on disk is not the one running (a bad file), or null. */
  nodelet_config_error: string | null;
  /** `phases stop` or `reset` holds the node: the loop starts nothing until it is released. */
  nodelet_hold: boolean;
  nodelet_loop_interval_s: number;
  nodelet_updated_at: string;
  etcd_backup?: EtcdBackupStatus;
}

export function emptyStatus(): KubeStatus {
  return {
    pf9_kube_service_state: 'false',
    pf9_kube_node_state: 'converging',
    pf9_kube_start_attempt: 0,
    pf9_cluster_id: '',
    pf9_cluster_role: '',
    all_status_checks: [],
    all_tasks: [],
    completed_tasks: [],
    current_status_check: '',
    current_task: '',
    last_failed_status_check: '',
    last_failed_status_time: 0,
    last_failed_task: '',
    status_check_timestamp: 0,
    phases: [],
    nodelet_kube_service_state: 'ignore',
    nodelet_phases_dir: '',
    nodelet_phase_files: [],
    nodelet_config_error: null,
    nodelet_hold: false,
    nodelet_loop_interval_s: 60,
    nodelet_updated_at: new Date(0).toISOString(),
  };
}

/** A status file's text as KubeStatus: missing keys take their empty values; a broken file is null. */
export function parseStatus(text: string): KubeStatus | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const base = emptyStatus();
  const str = (key: keyof KubeStatus): string => (typeof v[key] === 'string' ? (v[key] as string) : (base[key] as string));
  const num = (key: keyof KubeStatus): number => (typeof v[key] === 'number' && Number.isFinite(v[key]) ? (v[key] as number) : (base[key] as number));
  const list = (key: keyof KubeStatus): string[] => (Array.isArray(v[key]) ? (v[key] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
  const phases: PhaseStatus[] = Array.isArray(v.phases)
    ? (v.phases as unknown[]).flatMap((p) => {
        if (typeof p !== 'object' || p === null) return [];
        const r = p as Record<string, unknown>;
        if (typeof r.order !== 'number' || typeof r.name !== 'string') return [];
        const state = (PHASE_STATES as readonly string[]).includes(String(r.state)) ? (r.state as PhaseState) : 'not-started';
        return [{ order: r.order, name: r.name, state, message: typeof r.message === 'string' ? r.message : '', attempts: typeof r.attempts === 'number' ? r.attempts : 0 }];
      })
    : [];
  const nodeState = (NODE_STATES as readonly string[]).includes(String(v.pf9_kube_node_state)) ? (v.pf9_kube_node_state as NodeState) : base.pf9_kube_node_state;
  return {
    ...base,
    pf9_kube_service_state: v.pf9_kube_service_state === 'true' ? 'true' : 'false',
    pf9_kube_node_state: nodeState,
    pf9_kube_start_attempt: num('pf9_kube_start_attempt'),
    pf9_cluster_id: str('pf9_cluster_id'),
    pf9_cluster_role: str('pf9_cluster_role'),
    all_status_checks: list('all_status_checks'),
    all_tasks: list('all_tasks'),
    completed_tasks: list('completed_tasks'),
    current_status_check: str('current_status_check'),
    current_task: str('current_task'),
    last_failed_status_check: str('last_failed_status_check'),
    last_failed_status_time: num('last_failed_status_time'),
    last_failed_task: str('last_failed_task'),
    status_check_timestamp: num('status_check_timestamp'),
    phases,
    nodelet_kube_service_state: str('nodelet_kube_service_state'),
    nodelet_phases_dir: str('nodelet_phases_dir'),
    nodelet_phase_files: list('nodelet_phase_files'),
    nodelet_config_error: typeof v.nodelet_config_error === 'string' ? v.nodelet_config_error : null,
    nodelet_hold: v.nodelet_hold === true,
    nodelet_loop_interval_s: num('nodelet_loop_interval_s'),
    nodelet_updated_at: str('nodelet_updated_at'),
    ...(parseBackup(v.etcd_backup) ?? {}),
  };
}

function parseBackup(value: unknown): { etcd_backup: EtcdBackupStatus } | null {
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Record<string, unknown>;
  const interval = b.expected_interval_s;
  if (typeof interval !== 'number' || !Number.isFinite(interval)) return null;
  const text = (key: string): string | undefined => (typeof b[key] === 'string' ? (b[key] as string) : undefined);
  const count = (key: string): number | undefined => (typeof b[key] === 'number' && Number.isInteger(b[key]) && (b[key] as number) >= 0 ? (b[key] as number) : undefined);
  const time = (key: string): string | undefined => {
    const t = text(key);
    return t !== undefined && !Number.isNaN(Date.parse(t)) ? t : undefined;
  };
  const backup: EtcdBackupStatus = { expected_interval_s: interval, stale: b.stale === true };
  const set = <K extends keyof EtcdBackupStatus>(key: K, v: EtcdBackupStatus[K] | undefined): void => {
    if (v !== undefined) backup[key] = v;
  };
  set('last_success_at', time('last_success_at'));
  set('last_success_file', text('last_success_file'));
  set('last_success_size_bytes', count('last_success_size_bytes'));
  set('last_success_revision', count('last_success_revision'));
  set('last_failure_at', time('last_failure_at'));
  set('last_error', text('last_error'));
  return { etcd_backup: backup };
}
