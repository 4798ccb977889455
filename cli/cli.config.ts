import { resolve } from 'node:path';
import { UsageError, type CliEnv } from './command';

export type { CliEnv };

export const DEFAULT_DATA_DIR = './.data/plane';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The only place the CLI reads process.env. */
export function readCliEnv(): CliEnv {
  return { HOSTPLANE_API: process.env.HOSTPLANE_API, PF9_API_PORT: process.env.PF9_API_PORT, PF9_DATA_DIR: process.env.PF9_DATA_DIR };
}

/** --api wins, then HOSTPLANE_API, then a local plane on PF9_API_PORT, then the default. */
export function resolveApiUrl(flag: string | undefined, env: CliEnv): string {
  if (flag !== undefined) return checkUrl(flag, '--api');
  if (nonEmpty(env.HOSTPLANE_API)) return checkUrl(env.HOSTPLANE_API, 'HOSTPLANE_API');
  if (nonEmpty(env.PF9_API_PORT)) {
    const port = Number(env.PF9_API_PORT);
    if (!/^\d+$/.test(env.PF9_API_PORT) || port < 1 || port > 65535) {
      throw new UsageError(`PF9_API_PORT must be a port number (1-65535), got "${env.PF9_API_PORT}"`);
    }
    return `http://127.0.0.1:${port}`;
  }
  return DEFAULT_API_URL;
}

/** --data-dir wins, then PF9_DATA_DIR, then ./.data/plane; relative to `cwd`. */
export function resolveDataDir(flag: string | undefined, env: CliEnv, cwd: string): string {
  if (flag !== undefined) return resolve(cwd, flag);
  return resolve(cwd, nonEmpty(env.PF9_DATA_DIR) ? env.PF9_DATA_DIR : DEFAULT_DATA_DIR);
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function checkUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${source} must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} must be an http(s) URL, got "${value}"`);
  }
  return value.replace(/\/+$/, '');
}
