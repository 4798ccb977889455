import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min, MinLength, validateSync } from 'class-validator';
import { describeDetails, flattenErrors } from '#contracts';

/**
 * The host agent's environment, validated once at boot. The broker and the plane's
 * HTTP address are kept here alone, so that pointing the agent at pf9-comms's local
 * ports later is a change of two defaults.
 */
export class HostagentConfig {
  @IsString() @MinLength(1) amqpUrl!: string;
  @IsString() @MinLength(1) apiUrl!: string;
  @IsString() @MinLength(1) root!: string;
  @IsInt() @Min(1) heartbeatIntervalS!: number;
  @IsInt() @Min(1) convergeIntervalS!: number;
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
  /** The plane's broker user, the only sender of control messages; unset: what the plane said at join or renewal. */
  @IsOptional() @IsString() @MinLength(1) planeBrokerUser?: string;
}

const ENV_NAMES: Record<keyof HostagentConfig, string> = {
  amqpUrl: 'AMQP_URL',
  apiUrl: 'PF9_API_URL',
  root: 'PF9_ROOT',
  heartbeatIntervalS: 'PF9_HEARTBEAT_INTERVAL_S',
  convergeIntervalS: 'PF9_CONVERGE_INTERVAL_S',
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
  planeBrokerUser: 'PF9_PLANE_BROKER_USER',
};

export class ConfigError extends Error {}

export function loadHostagentConfig(env: Record<string, string | undefined>): HostagentConfig {
  const plain = {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    apiUrl: env.PF9_API_URL ?? `http://127.0.0.1:${env.PF9_API_PORT ?? '8080'}`,
    root: resolve(env.PF9_ROOT ?? '/'),
    heartbeatIntervalS: integer(env.PF9_HEARTBEAT_INTERVAL_S, 30),
    convergeIntervalS: integer(env.PF9_CONVERGE_INTERVAL_S, 60),
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
