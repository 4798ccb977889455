import { isIP } from 'node:net';
import { isAbsolute, normalize } from 'node:path';

export const ROLES = ['master', 'worker', 'none'] as const;
export type NodeRole = (typeof ROLES)[number];
export const SERVICE_STATES = ['true', 'false', 'ignore'] as const;
export type KubeServiceState = (typeof SERVICE_STATES)[number];

export interface VipConfig {
  enabled: boolean;
  iface: string;
  vrouterId: number;
  masterIp: string;
  priority: number;
}

export interface EtcdBackupConfig {
  enabled: boolean;
  endpoint: string;
  intervalMins: number;
  /** Daily at this local time instead of every intervalMins. */
  dailyAt: { hour: number; minute: number } | null;
  dir: string;
  keep: number;
}

/** The merged, validated configuration of every YAML file under etc/pf9/nodelet. */
export interface NodeConfig {
  role: NodeRole;
  clusterId: string;
  kubeServiceState: KubeServiceState;
  fullRetryCount: number;
  phaseRetry: number;
  loopIntervalS: number;
  useCgroups: boolean;
  /** Percent of one CPU for status checks; outside (0, 100] they run unconfined (said once in the log). */
  cpuLimit: number;
  statusTimeoutS: number;
  /** How long a phase's start or stop may take before it is killed (nodelet's own key). */
  phaseTimeoutS: number;
  phasesDir: string;
  vip: VipConfig;
  etcdBackup: EtcdBackupConfig;
  /** ETCD_VERSION: a change of it takes a snapshot first. */
  etcdVersion: string;
  /** Every key with its value as kube.env writes it (defaults included), sorted by key. */
  env: Record<string, string>;
  /** The files read, in the order they were merged. */
  files: string[];
  /** `env` as one canonical text: equal configurations have equal digests. */
  digest: string;
}

export interface ConfigProblem {
  /** The file that set the key (or `default`). */
  file: string;
  key: string;
  expected: string;
  got?: string;
}

export class NodeConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid nodelet configuration:\n${problems.map((p) => `  - ${describeProblem(p)}`).join('\n')}`);
    this.name = 'NodeConfigError';
  }
}

export function describeProblem(p: ConfigProblem): string {
  return `${p.file}: ${p.key === '' ? '' : `${p.key}: `}expected ${p.expected}${p.got === undefined ? '' : `, got ${p.got}`}`;
}

export type Scalar = string | number | boolean;

/** One KEY: value as a file set it. */
export interface Setting {
  value: Scalar;
  file: string;
}

export interface ConfigDefaults {
  phasesDir: string;
  etcdBackupDir: string;
}

export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Set by nodelet itself for every phase: a file may not change them. */
export const RESERVED_KEYS = new Set(['PATH', 'HOME', 'IFS', 'PF9_ROOT', 'KEEPALIVED_AUTH_PASS', 'KUBE_ENV', 'KUBE_OVERRIDE_ENV']);
export const RESERVED_PREFIX = 'NODELET_';
const IFACE_PATTERN = /^[A-Za-z0-9_.:@-]{1,15}$/;
const DAILY_AT_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** The merged settings of every file (later files won), checked: the configuration, or NodeConfigError. */
export function validateSettings(settings: Map<string, Setting>, files: string[], defaults: ConfigDefaults): NodeConfig {
  const problems: ConfigProblem[] = [];
  const config = validate(settings, defaults, problems);
  if (problems.length > 0) throw new NodeConfigError(problems);
  return { ...config, files };
}

function validate(settings: Map<string, Setting>, defaults: ConfigDefaults, problems: ConfigProblem[]): Omit<NodeConfig, 'files'> {
  const env: Record<string, string> = {};
  for (const [key, { value }] of settings) env[key] = String(value);
  const origin = (key: string): string => settings.get(key)?.file ?? 'default';
  const problem = (key: string, expected: string): void => {
    const s = settings.get(key);
    problems.push({ file: origin(key), key, expected, got: s === undefined ? undefined : JSON.stringify(s.value) });
  };

  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const s = settings.get(key);
    if (s === undefined) return fallback;
    const text = String(s.value);
    if ((allowed as readonly string[]).includes(text)) return text as T;
    problem(key, `one of ${allowed.join(', ')}`);
    return fallback;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const s = settings.get(key);
    if (s === undefined) return fallback;
    if (s.value === true || s.value === 'true') return true;
    if (s.value === false || s.value === 'false') return false;
    problem(key, 'true or false');
    return fallback;
  };
  const number = (key: string, fallback: number, min: number, what: string, integer = false, max = Infinity): number => {
    const s = settings.get(key);
    if (s === undefined) return fallback;
    const n = typeof s.value === 'number' ? s.value : typeof s.value === 'string' && /^-?\d+(\.\d+)?$/.test(s.value.trim()) ? Number(s.value) : Number.NaN;
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      problem(key, what);
      return fallback;
    }
    return n;
  };
  const text = (key: string, fallback: string): string => {
    const s = settings.get(key);
    return s === undefined ? fallback : String(s.value);
  };
  const path = (key: string, fallback: string): string => {
    const s = settings.get(key);
    if (s === undefined) return fallback;
    const p = String(s.value);
    if (!isAbsolute(p)) {
      problem(key, 'an absolute path');
      return fallback;
    }
    return normalize(p);
  };

  const role = oneOf('ROLE', ROLES, 'none');
  const kubeServiceState = oneOf('KUBE_SERVICE_STATE', SERVICE_STATES, 'ignore');
  const fullRetryCount = number('FULL_RETRY_COUNT', 10, 1, 'an integer >= 1', true);
  const phaseRetry = number('PHASE_RETRY', 3, 1, 'an integer >= 1', true);
  const loopIntervalS = number('LOOP_INTERVAL', 60, 1, 'a number of seconds >= 1');
  const useCgroups = bool('USE_CGROUPS', true);
  const cpuLimit = number('CPU_LIMIT', 40, -Infinity, 'a number (percent of one CPU)');
  const statusTimeoutS = number('STATUS_TIMEOUT', 60, 0.1, 'a number of seconds > 0');
  const phaseTimeoutS = number('PHASE_TIMEOUT', 1800, 0.1, 'a number of seconds > 0');
  const phasesDir = path('PHASES_DIR', defaults.phasesDir);

  const vip: VipConfig = {
    enabled: bool('MASTER_VIP_ENABLED', false),
    iface: text('MASTER_VIP_IFACE', ''),
    vrouterId: number('MASTER_VIP_VROUTER_ID', 0, 1, 'an integer from 1 to 255 (VRRP virtual_router_id)', true, 255),
    masterIp: text('MASTER_IP', ''),
    priority: number('MASTER_VIP_PRIORITY', 100, 1, 'an integer from 1 to 254 (VRRP priority)', true, 254),
  };
  if (settings.has('MASTER_VIP_IFACE') && !IFACE_PATTERN.test(vip.iface)) problem('MASTER_VIP_IFACE', 'a network interface name (at most 15 characters: letters, digits, _ . : @ -)');
  if (settings.has('MASTER_IP') && vip.masterIp !== '' && isIP(vip.masterIp) === 0) problem('MASTER_IP', 'an IPv4 or IPv6 address');
  if (vip.enabled) {
    if (!settings.has('MASTER_VIP_IFACE')) problems.push({ file: origin('MASTER_VIP_ENABLED'), key: 'MASTER_VIP_IFACE', expected: 'an interface name, since MASTER_VIP_ENABLED is true' });
    if (!settings.has('MASTER_VIP_VROUTER_ID')) problems.push({ file: origin('MASTER_VIP_ENABLED'), key: 'MASTER_VIP_VROUTER_ID', expected: 'an integer from 1 to 255, since MASTER_VIP_ENABLED is true' });
    if (vip.masterIp === '') problems.push({ file: origin('MASTER_VIP_ENABLED'), key: 'MASTER_IP', expected: 'the virtual IP address, since MASTER_VIP_ENABLED is true' });
  }

  const dailyText = text('ETCD_BACKUP_DAILY_AT', '');
  const daily = DAILY_AT_PATTERN.exec(dailyText);
  if (settings.has('ETCD_BACKUP_DAILY_AT') && dailyText !== '' && !daily) problem('ETCD_BACKUP_DAILY_AT', 'a time of day as HH:MM (00:00 to 23:59)');
  const endpoint = text('ETCD_BACKUP_ENDPOINT', 'http://127.0.0.1:2379');
  if (!/^https?:\/\/[^\s/,]+(:\d+)?\/?$/.test(endpoint)) problem('ETCD_BACKUP_ENDPOINT', 'one http:// or https:// endpoint of the local etcd member');
  const etcdBackup: EtcdBackupConfig = {
    enabled: bool('ETCD_BACKUP_ENABLED', false),
    endpoint,
    intervalMins: number('ETCD_BACKUP_INTERVAL_MINS', 1440, 1, 'an integer number of minutes >= 1', true),
    dailyAt: daily ? { hour: Number(daily[1]), minute: Number(daily[2]) } : null,
    dir: path('ETCD_BACKUP_DIR', defaults.etcdBackupDir),
    keep: number('ETCD_BACKUP_KEEP', 3, 1, 'an integer >= 1', true),
  };

  // kube.env carries nodelet's own keys with their values in effect, then every other key as given.
  const effective: Record<string, string> = {
    ...env,
    ROLE: role,
    CLUSTER_ID: text('CLUSTER_ID', ''),
    KUBE_SERVICE_STATE: kubeServiceState,
    FULL_RETRY_COUNT: String(fullRetryCount),
    PHASE_RETRY: String(phaseRetry),
    LOOP_INTERVAL: String(loopIntervalS),
    USE_CGROUPS: String(useCgroups),
    CPU_LIMIT: String(cpuLimit),
    STATUS_TIMEOUT: String(statusTimeoutS),
    PHASES_DIR: phasesDir,
    MASTER_VIP_ENABLED: String(vip.enabled),
    ETCD_BACKUP_ENABLED: String(etcdBackup.enabled),
    ETCD_BACKUP_DIR: etcdBackup.dir,
  };
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(effective).sort()) sorted[key] = effective[key];
  return {
    role,
    clusterId: text('CLUSTER_ID', ''),
    kubeServiceState,
    fullRetryCount,
    phaseRetry,
    loopIntervalS,
    useCgroups,
    cpuLimit,
    statusTimeoutS,
    phaseTimeoutS,
    phasesDir,
    vip,
    etcdBackup,
    etcdVersion: text('ETCD_VERSION', ''),
    env: sorted,
    digest: JSON.stringify(sorted),
  };
}
