import { resolve } from 'node:path';
import { IsIn, IsInt, IsString, Max, Min, MinLength, validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { describeDetails, flattenErrors } from '#contracts';

/** The role store's environment (CONTRACT.md section 7), validated once at boot. */
export class RolestoreConfig {
  @IsString() @MinLength(1) amqpUrl!: string;
  @IsString() @MinLength(1) databaseUrl!: string;
  @IsString() @MinLength(1) dataDir!: string;
  @IsString() @MinLength(1) apiHost!: string;
  @IsInt() @Min(0) @Max(65535) apiPort!: number;
  @IsInt() @Min(1) heartbeatIntervalS!: number;
  @IsInt() @Min(1) offlineAfterS!: number;
  @IsInt() @Min(1024) maxPackageBytes!: number;
  @IsIn(['debug', 'info', 'warn', 'error']) logLevel!: string;
}

const ENV_NAMES: Partial<Record<keyof RolestoreConfig, string>> = {
  amqpUrl: 'AMQP_URL',
  databaseUrl: 'DATABASE_URL',
  dataDir: 'PF9_DATA_DIR',
  apiHost: 'PF9_API_HOST',
  apiPort: 'PF9_API_PORT',
  heartbeatIntervalS: 'PF9_HEARTBEAT_INTERVAL_S',
  offlineAfterS: 'PF9_HOST_OFFLINE_AFTER_S',
  maxPackageBytes: 'PF9_MAX_PACKAGE_BYTES',
  logLevel: 'PF9_LOG_LEVEL',
};

export type Environment = Record<string, string | undefined>;

export class ConfigError extends Error {}

export function loadRolestoreConfig(env: Environment): RolestoreConfig {
  const dataDir = resolve(env.PF9_DATA_DIR ?? './.data/plane');
  const heartbeatIntervalS = integer(env.PF9_HEARTBEAT_INTERVAL_S, 30);
  const plain = {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    databaseUrl: env.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'rolestore.db')}`,
    dataDir,
    apiHost: env.PF9_API_HOST ?? '127.0.0.1',
    apiPort: integer(env.PF9_API_PORT, 8080),
    heartbeatIntervalS,
    offlineAfterS: integer(env.PF9_HOST_OFFLINE_AFTER_S, 3 * heartbeatIntervalS),
    maxPackageBytes: integer(env.PF9_MAX_PACKAGE_BYTES, 256 * 1024 * 1024),
    logLevel: env.PF9_LOG_LEVEL ?? 'info',
  };
  const config = plainToInstance(RolestoreConfig, plain);
  const errors = validateSync(config);
  if (errors.length > 0) {
    const details = flattenErrors(errors, '').map((d) => ({ ...d, path: ENV_NAMES[d.path as keyof RolestoreConfig] ?? d.path }));
    throw new ConfigError(`invalid role store configuration: ${describeDetails(details)}`);
  }
  return config;
}

/** A number where one is expected, NaN otherwise (so that validation names the variable). */
function integer(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}
