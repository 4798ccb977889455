import { resolve } from 'node:path';
import { ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, Min, MinLength, ValidateIf, validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { describeDetails, flattenErrors, hostBrokerUser, OPERATOR_ROLES, type OperatorRole, type ValidationDetail } from '#contracts';
import { readStopWithParent } from '../../../libs/lifetime';
import { parseDatabaseUrl } from '../database/database-url';

/** The role store's environment (CONTRACT.md section 7), validated once at boot. */
export class RolestoreConfig {
  @IsString() @MinLength(1) amqpUrl!: string;
  @IsString() @MinLength(1) databaseUrl!: string;
  /** The longest wait on the database (a connection, a statement, an answer) before it counts as unavailable. */
  @IsInt() @Min(1) @Max(3600) databaseTimeoutS!: number;
  @IsString() @MinLength(1) dataDir!: string;
  @IsString() @MinLength(1) apiHost!: string;
  @IsInt() @Min(0) @Max(65535) apiPort!: number;
  /** The registration listener (POST /v1/join), the ingress's `pf9-join` route. */
  @IsString() @MinLength(1) joinHost!: string;
  @IsInt() @Min(0) @Max(65535) joinPort!: number;
  /** What hosts fetch (role packages, nothing else), the ingress's `pf9-http` route. */
  @IsString() @MinLength(1) hostApiHost!: string;
  @IsInt() @Min(0) @Max(65535) hostApiPort!: number;
  @IsInt() @Min(1) heartbeatIntervalS!: number;
  @IsInt() @Min(1) offlineAfterS!: number;
  @IsInt() @Min(1024) maxPackageBytes!: number;
  @IsIn(['debug', 'info', 'warn', 'error']) logLevel!: string;
  /** RabbitMQ's management API, credentials in the URL: where host broker users are made. */
  @ValidateIf((config: RolestoreConfig) => config.hostBrokerUsers !== 'off')
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true }) brokerManagementUrl!: string;
  /** The vhost of AMQP_URL (amqplib's reading: no path is '/'); host users get permissions there. */
  @IsString() @MinLength(1) brokerVhost!: string;
  /**
   * Whether each host gets its own broker user, limited to its own queue and routing keys;
   * `auto` (the default): when the management API answers at start. startRolestore resolves it to on or off.
   */
  @IsIn(['on', 'off', 'auto']) hostBrokerUsers!: 'on' | 'off' | 'auto';
  /**
   * Insecure: the broker user that hosts without one of their own share (set on the ingress
   * too). Unset: the plane admits no host on a shared identity, since any such host can act as
   * every other.
   */
  @IsOptional() @IsString() @MinLength(1) insecureSharedBrokerUser?: string;
  /** The plane's own broker user (AMQP_URL's): the broker-validated user_id of every control message. */
  @IsString() @MinLength(1) planeBrokerUser!: string;
  /** How long a deauthorized host keeps its broker access to report its roles removed (at most a day: a timer's range). */
  @IsInt() @Min(1) @Max(86_400) deauthorizedGraceS!: number;
  /** PF9_STOP_WITH_PARENT=1: stop when the pipe on standard input ends (the all-in-one that started it is gone). */
  @IsBoolean({ message: 'must be 1 or 0' }) stopWithParent!: boolean;
  /** Contract 1.1: the role of each operator's broker user on pf9.api (`user:role,…`), by the broker-validated user_id (parsed and checked by parseOperatorBrokerUsers). */
  operatorBrokerUsers!: ReadonlyMap<string, OperatorRole>;
  /** Contract 1.1: the role of a pf9.api message without user_id; `none` refuses it. */
  @IsIn([...OPERATOR_ROLES, 'none']) apiAnonymousRole!: OperatorRole | 'none';
  /**
   * The names the REST API answers to in the Host header (any port): a request for another
   * name is refused, so that a web page a DNS rebinding points at the plane gets nothing.
   */
  @IsArray() @ArrayMinSize(1) @IsString({ each: true }) apiHostnames!: string[];
}

const ENV_NAMES: Partial<Record<keyof RolestoreConfig, string>> = {
  amqpUrl: 'AMQP_URL',
  databaseUrl: 'DATABASE_URL',
  databaseTimeoutS: 'PF9_DATABASE_TIMEOUT_S',
  dataDir: 'PF9_DATA_DIR',
  apiHost: 'PF9_API_HOST',
  apiPort: 'PF9_API_PORT',
  joinHost: 'PF9_JOIN_HOST',
  joinPort: 'PF9_JOIN_PORT',
  hostApiHost: 'PF9_HOST_API_HOST',
  hostApiPort: 'PF9_HOST_API_PORT',
  heartbeatIntervalS: 'PF9_HEARTBEAT_INTERVAL_S',
  offlineAfterS: 'PF9_HOST_OFFLINE_AFTER_S',
  maxPackageBytes: 'PF9_MAX_PACKAGE_BYTES',
  logLevel: 'PF9_LOG_LEVEL',
  brokerManagementUrl: 'PF9_BROKER_MANAGEMENT_URL',
  brokerVhost: 'AMQP_URL',
  hostBrokerUsers: 'PF9_HOST_BROKER_USERS',
  insecureSharedBrokerUser: 'PF9_INSECURE_SHARED_BROKER_USER',
  operatorBrokerUsers: 'PF9_OPERATOR_BROKER_USERS',
  apiAnonymousRole: 'PF9_API_ANONYMOUS_ROLE',
  apiHostnames: 'PF9_API_HOSTNAMES',
  planeBrokerUser: 'AMQP_URL',
  deauthorizedGraceS: 'PF9_HOST_DEAUTHORIZED_GRACE_S',
  stopWithParent: 'PF9_STOP_WITH_PARENT',
};

export type Environment = Record<string, string | undefined>;

export class ConfigError extends Error {}

export function loadRolestoreConfig(env: Environment): RolestoreConfig {
  const dataDir = resolve(env.PF9_DATA_DIR ?? './.data/plane');
  const heartbeatIntervalS = integer(env.PF9_HEARTBEAT_INTERVAL_S, 30);
  const amqpUrl = env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const stopWithParent = readStopWithParent(env.PF9_STOP_WITH_PARENT);
  const operatorBrokerUsers = parseOperatorBrokerUsers(env.PF9_OPERATOR_BROKER_USERS);
  const plain = {
    amqpUrl,
    databaseUrl: env.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'rolestore.db')}`,
    databaseTimeoutS: integer(env.PF9_DATABASE_TIMEOUT_S, 10),
    dataDir,
    apiHost: env.PF9_API_HOST ?? '127.0.0.1',
    apiPort: integer(env.PF9_API_PORT, 8080),
    joinHost: env.PF9_JOIN_HOST ?? '127.0.0.1',
    // A role store on an ephemeral API port (tests, several on one machine) takes an ephemeral join port too.
    joinPort: integer(env.PF9_JOIN_PORT, env.PF9_API_PORT === '0' ? 0 : 8079),
    hostApiHost: env.PF9_HOST_API_HOST ?? '127.0.0.1',
    hostApiPort: integer(env.PF9_HOST_API_PORT, env.PF9_API_PORT === '0' ? 0 : 8078),
    heartbeatIntervalS,
    offlineAfterS: integer(env.PF9_HOST_OFFLINE_AFTER_S, 3 * heartbeatIntervalS),
    maxPackageBytes: integer(env.PF9_MAX_PACKAGE_BYTES, 256 * 1024 * 1024),
    logLevel: env.PF9_LOG_LEVEL ?? 'info',
    brokerManagementUrl: env.PF9_BROKER_MANAGEMENT_URL ?? managementUrlOf(amqpUrl),
    brokerVhost: vhostOf(amqpUrl),
    hostBrokerUsers: env.PF9_HOST_BROKER_USERS ?? 'auto',
    insecureSharedBrokerUser: env.PF9_INSECURE_SHARED_BROKER_USER === '' ? undefined : env.PF9_INSECURE_SHARED_BROKER_USER,
    planeBrokerUser: userOf(amqpUrl),
    deauthorizedGraceS: integer(env.PF9_HOST_DEAUTHORIZED_GRACE_S, 120),
    // What is not 1 or 0 stays text, for the validator to name.
    stopWithParent: stopWithParent.ok ? stopWithParent.value : env.PF9_STOP_WITH_PARENT,
    apiAnonymousRole: (env.PF9_API_ANONYMOUS_ROLE ?? '').trim() || 'operator',
    apiHostnames: apiHostnamesOf(env.PF9_API_HOSTNAMES, env.PF9_API_HOST),
  };
  const config = plainToInstance(RolestoreConfig, plain);
  config.operatorBrokerUsers = operatorBrokerUsers.value;
  const errors = validateSync(config);
  const details = flattenErrors(errors, '').map((d) => ({ ...d, path: ENV_NAMES[d.path as keyof RolestoreConfig] ?? d.path }));
  if (operatorBrokerUsers.problem !== null) details.push({ path: 'PF9_OPERATOR_BROKER_USERS', problems: [operatorBrokerUsers.problem] });
  const hostsToo = operatorUsersHostsHave(operatorBrokerUsers.value, config.insecureSharedBrokerUser);
  if (hostsToo !== null) details.push({ path: 'PF9_OPERATOR_BROKER_USERS', problems: [hostsToo] });
  details.push(...portClashes(config));
  const database = parseDatabaseUrl(config.databaseUrl);
  if (!database.ok && config.databaseUrl !== '') details.push({ path: 'DATABASE_URL', problems: [database.problem] });
  if (details.length > 0) throw new ConfigError(`invalid role store configuration: ${describeDetails(details)}`);
  return config;
}

/** `user:role,…` → { user: role }; a user named twice, an unknown role or a malformed entry is a problem. */
export function parseOperatorBrokerUsers(text: string | undefined): { value: ReadonlyMap<string, OperatorRole>; problem: string | null } {
  const value = new Map<string, OperatorRole>();
  const trimmed = (text ?? '').trim();
  if (trimmed === '') return { value, problem: null };
  for (const entry of trimmed.split(',')) {
    const match = /^([^:\s]+):(\w+)$/.exec(entry.trim());
    if (!match) return { value, problem: `'${entry.trim()}' is not user:role` };
    const [, user, role] = match as unknown as [string, string, string];
    if (!(OPERATOR_ROLES as readonly string[]).includes(role)) return { value, problem: `${user}: '${role}' is not one of ${OPERATOR_ROLES.join(', ')}` };
    if (value.has(user)) return { value, problem: `${user} is named twice` };
    value.set(user, role as OperatorRole);
  }
  return { value, problem: null };
}

/**
 * An operator's broker user is never one a host logs in as: not a host's own (`pf9-host-<id>`,
 * which the plane makes and deletes) and not the identity hosts share when told to (then
 * every host could command the fleet).
 */
function operatorUsersHostsHave(users: ReadonlyMap<string, OperatorRole>, sharedHostUser: string | undefined): string | null {
  const prefix = hostBrokerUser('');
  for (const user of users.keys()) {
    if (user.startsWith(prefix)) return `${user} is a host's broker user (${prefix}<id>): no host may send operator commands`;
    if (user === sharedHostUser) return `${user} is PF9_INSECURE_SHARED_BROKER_USER, the identity hosts share: no host may send operator commands`;
  }
  return null;
}

/**
 * The Host header names of the REST API: PF9_API_HOSTNAMES (comma-separated), or the loopback
 * names and PF9_API_HOST when it names one address (not 0.0.0.0 or ::, which name none).
 */
function apiHostnamesOf(list: string | undefined, apiHost: string | undefined): string[] {
  const given = (list ?? '').split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  if (given.length > 0) return given;
  const names = ['localhost', '127.0.0.1', '::1'];
  const host = (apiHost ?? '').trim().toLowerCase();
  if (host !== '' && host !== '0.0.0.0' && host !== '::' && !names.includes(host)) names.push(host);
  return names;
}

/** The three listeners need three ports (0, an ephemeral one each, never clashes). */
function portClashes(config: RolestoreConfig): ValidationDetail[] {
  const listeners = ['apiPort', 'joinPort', 'hostApiPort'] as const;
  const clashes: ValidationDetail[] = [];
  listeners.forEach((key, i) => {
    const earlier = listeners.slice(0, i).find((other) => config[other] === config[key] && config[key] !== 0);
    if (earlier !== undefined) clashes.push({ path: ENV_NAMES[key] ?? key, problems: [`port ${config[key]} is ${ENV_NAMES[earlier] ?? earlier}'s too`] });
  });
  return clashes;
}

/**
 * The management API beside the broker: AMQP_URL's host and credentials (guest:guest when
 * it has none, as amqplib does), http, port 15672.
 */
function managementUrlOf(amqpUrl: string): string {
  const parsed = parseUrl(amqpUrl);
  if (!parsed) return '';
  const credentials = parsed.username === '' ? 'guest:guest' : `${parsed.username}:${parsed.password}`;
  return `http://${credentials}@${parsed.hostname}:15672`;
}

/** The user amqplib logs in as for this URL: its user name, or guest when it has none. */
function userOf(amqpUrl: string): string {
  const parsed = parseUrl(amqpUrl);
  return parsed === null || parsed.username === '' ? 'guest' : decodeURIComponent(parsed.username);
}

/** The vhost amqplib connects to for this URL: the path without its leading '/', or '/'. */
function vhostOf(amqpUrl: string): string {
  const path = parseUrl(amqpUrl)?.pathname ?? '';
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** A number where one is expected, NaN otherwise (so that validation names the variable). */
function integer(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}
