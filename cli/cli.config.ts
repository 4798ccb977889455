import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError, type CliEnv } from './command';

export type { CliEnv };

export const DEFAULT_DATA_DIR = './.data/plane';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The only place the CLI reads process.env. */
export function readCliEnv(): CliEnv {
  const env = process.env;
  return {
    HOSTPLANE_API: env.HOSTPLANE_API,
    PF9_API_PORT: env.PF9_API_PORT,
    PF9_DATA_DIR: env.PF9_DATA_DIR,
    HOSTPLANE_TOKEN: env.HOSTPLANE_TOKEN,
    HOSTPLANE_TOKEN_FILE: env.HOSTPLANE_TOKEN_FILE,
    XDG_STATE_HOME: env.XDG_STATE_HOME,
    HOME: env.HOME,
  };
}

/** The file a plane writes its first admin token to (CONTRACT.md section 8). */
export const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * The operator's token, as CONTRACT.md section 8 orders it: --token, else HOSTPLANE_TOKEN,
 * else the file HOSTPLANE_TOKEN_FILE names, else <PF9_DATA_DIR>/admin.token when readable
 * and the API is on this machine (so that the all-in-one's CLI works from the project's
 * folder, and a plane's admin token never goes to another); none: undefined.
 */
export function resolveToken(
  flag: string | undefined,
  env: CliEnv,
  cwd: string,
  apiUrl: string,
  read: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): string | undefined {
  if (flag !== undefined) return checkToken(flag, '--token');
  if (nonEmpty(env.HOSTPLANE_TOKEN)) return checkToken(env.HOSTPLANE_TOKEN.trim(), 'HOSTPLANE_TOKEN');
  if (nonEmpty(env.HOSTPLANE_TOKEN_FILE)) {
    const file = resolve(cwd, env.HOSTPLANE_TOKEN_FILE);
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      throw new UsageError(`HOSTPLANE_TOKEN_FILE names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return checkToken(firstLine(text), `the token file ${file}`);
  }
  // The plane's own admin token goes only to a plane on this machine: never to a URL someone else named.
  if (!isLoopbackUrl(apiUrl)) return undefined;
  const file = join(resolveDataDir(undefined, env, cwd), ADMIN_TOKEN_FILE);
  let token: string;
  try {
    token = firstLine(read(file));
  } catch {
    return undefined;
  }
  return token === '' ? undefined : checkToken(token, `the token file ${file}`);
}

/** Whether the URL names this machine by a loopback name or address. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim();
}

function checkToken(token: string, source: string): string {
  // Sent in a header: no control characters, nothing a header could not carry.
  if (!/^[\x21-\x7e]{1,1024}$/.test(token)) throw new UsageError(`${source} does not hold a token (1-1024 visible ASCII characters)`);
  return token;
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
