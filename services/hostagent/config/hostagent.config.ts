import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, validateSync } from 'class-validator';
import { describeDetails, flattenErrors } from '#contracts';
import { readStopWithParent } from '../../../libs/lifetime';

/**
 * The host agent's environment, validated once at boot. The broker and the plane's HTTP
 * addresses are kept here alone: TCP URLs (straight to a broker in development), or
 * pf9-comms's Unix sockets (PF9_COMMS_SOCKET_DIR) on a host.
 */
export class HostagentConfig {
  @IsString() @MinLength(1) amqpUrl!: string;
  @IsString() @MinLength(1) apiUrl!: string;
  @IsString() @MinLength(1) root!: string;
  @IsInt() @Min(1) heartbeatIntervalS!: number;
  @IsInt() @Min(1) convergeIntervalS!: number;
  /** A failed role is tried again after this long, doubling at each failure in a row, up to the converge interval. */
  @IsInt() @Min(1) roleRetryInitialS!: number;
  @IsInt() @Min(1) hookTimeoutS!: number;
  @IsString() @MinLength(1) metricsHost!: string;
  @IsInt() @Min(0) @Max(65535) metricsPort!: number;
  @IsIn(['debug', 'info', 'warn', 'error']) logLevel!: string;
  /** Starts pf9-comms (or restarts it, e.g. `systemctl restart pf9-comms`); empty: comms is not watched. */
  @IsString() commsCommand!: string;
  @IsString() @MinLength(1) commsHealthUrl!: string;
  @IsInt() @Min(1) commsCheckIntervalS!: number;
  @IsString() @MinLength(1) joinUrl!: string;
  @IsString() joinToken!: string;
  /** How often the host certificate is looked at for renewal (at most 14 days: a timer's range). */
  @IsInt() @Min(1) @Max(1_209_600) certRenewCheckS!: number;
  /** Renew once fewer days are left; unset: once a third of the certificate's lifetime is left. */
  @IsOptional() @IsInt() @Min(1) certRenewBeforeDays?: number;
  /** PF9_STOP_WITH_PARENT=1: stop when the pipe on standard input ends (the all-in-one that started the agent is gone). */
  @IsBoolean({ message: "must be 1 or 0" }) stopWithParent!: boolean;
  /**
   * pf9-comms's socket folder: when set, the agent reaches the broker, the packages and
   * registration through `amqp.sock`, `http.sock` and `join.sock` there, not over TCP.
   */
  @IsString() @Matches(/^(|\/.*)$/, { message: 'must be an absolute path, or empty for TCP' }) commsSocketDir!: string;
  /** The user pf9-comms runs as (a name or uid:gid): it gets the host's key and certificates, and may own the socket folder. */
  @IsString() commsUser!: string;
  /** The plane's broker user, the only sender of control messages; unset: what the plane said at join or renewal. */
  @IsOptional() @IsString() @MinLength(1) planeBrokerUser?: string;
}

const ENV_NAMES: Record<keyof HostagentConfig, string> = {
  amqpUrl: 'AMQP_URL',
  apiUrl: 'PF9_API_URL',
  root: 'PF9_ROOT',
  heartbeatIntervalS: 'PF9_HEARTBEAT_INTERVAL_S',
  convergeIntervalS: 'PF9_CONVERGE_INTERVAL_S',
  roleRetryInitialS: 'PF9_ROLE_RETRY_INITIAL_S',
  hookTimeoutS: 'PF9_HOOK_TIMEOUT_S',
  metricsHost: 'PF9_AGENT_METRICS_HOST',
  metricsPort: 'PF9_AGENT_METRICS_PORT',
  logLevel: 'PF9_LOG_LEVEL',
  commsCommand: 'PF9_COMMS_COMMAND',
  commsHealthUrl: 'PF9_COMMS_HEALTH_URL',
  commsCheckIntervalS: 'PF9_COMMS_CHECK_INTERVAL_S',
  joinUrl: 'PF9_JOIN_URL',
  joinToken: 'PF9_JOIN_TOKEN',
  certRenewCheckS: 'PF9_CERT_RENEW_CHECK_S',
  certRenewBeforeDays: 'PF9_CERT_RENEW_BEFORE_DAYS',
  stopWithParent: 'PF9_STOP_WITH_PARENT',
  commsSocketDir: 'PF9_COMMS_SOCKET_DIR',
  commsUser: 'PF9_COMMS_USER',
  planeBrokerUser: 'PF9_PLANE_BROKER_USER',
};

export class ConfigError extends Error {}

export function loadHostagentConfig(env: Record<string, string | undefined>): HostagentConfig {
  const stopWithParent = readStopWithParent(env.PF9_STOP_WITH_PARENT);
  const plain = {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    apiUrl: env.PF9_API_URL ?? `http://127.0.0.1:${env.PF9_API_PORT ?? '8080'}`,
    root: resolve(env.PF9_ROOT ?? '/'),
    heartbeatIntervalS: integer(env.PF9_HEARTBEAT_INTERVAL_S, 30),
    convergeIntervalS: integer(env.PF9_CONVERGE_INTERVAL_S, 60),
    roleRetryInitialS: integer(env.PF9_ROLE_RETRY_INITIAL_S, 5),
    hookTimeoutS: integer(env.PF9_HOOK_TIMEOUT_S, 600),
    metricsHost: env.PF9_AGENT_METRICS_HOST ?? '127.0.0.1',
    metricsPort: integer(env.PF9_AGENT_METRICS_PORT, 9091),
    logLevel: env.PF9_LOG_LEVEL ?? 'info',
    commsCommand: env.PF9_COMMS_COMMAND ?? '',
    commsHealthUrl: env.PF9_COMMS_HEALTH_URL ?? 'http://127.0.0.1:9092/healthz',
    commsCheckIntervalS: integer(env.PF9_COMMS_CHECK_INTERVAL_S, 2),
    joinUrl: env.PF9_JOIN_URL ?? 'http://127.0.0.1:9079',
    joinToken: env.PF9_JOIN_TOKEN ?? '',
    certRenewCheckS: integer(env.PF9_CERT_RENEW_CHECK_S, 3600),
    certRenewBeforeDays: env.PF9_CERT_RENEW_BEFORE_DAYS === undefined || env.PF9_CERT_RENEW_BEFORE_DAYS === '' ? undefined : integer(env.PF9_CERT_RENEW_BEFORE_DAYS, 0),
    // What is not 1 or 0 stays text, for the validator to name.
    stopWithParent: stopWithParent.ok ? stopWithParent.value : env.PF9_STOP_WITH_PARENT,
    commsSocketDir: (env.PF9_COMMS_SOCKET_DIR ?? '').trim().replace(/(.)\/+$/, '$1'),
    commsUser: (env.PF9_COMMS_USER ?? '').trim(),
    planeBrokerUser: env.PF9_PLANE_BROKER_USER === '' ? undefined : env.PF9_PLANE_BROKER_USER,
  };
  const config = plainToInstance(HostagentConfig, plain);
  const errors = validateSync(config);
  if (errors.length > 0) {
    const details = flattenErrors(errors, '').map((d) => ({ ...d, path: ENV_NAMES[d.path as keyof HostagentConfig] ?? d.path }));
    throw new ConfigError(`invalid host agent configuration: ${describeDetails(details)}`);
  }
  return config;
}

function integer(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}
