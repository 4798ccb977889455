import { isIP } from 'node:net';
import { MAX_SOCKET_PATH_BYTES } from '../private-fs/socket-folder';

export interface Endpoint {
  host: string;
  port: number;
}

/** A parse that collects every problem instead of stopping at the first, for boot-time error lists. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/**
 * `host:port`, `[v6]:port`; port 0 ("any free port") only when allowed (listeners, not
 * destinations).
 */
export function parseHostPort(text: string, options: { allowPortZero?: boolean } = {}): Parsed<Endpoint> {
  const trimmed = text.trim();
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed) ?? /^([^:[\]\s]+):(\d+)$/.exec(trimmed);
  if (!match) return { ok: false, problems: [`'${text}' is not host:port`] };
  const host = match[1];
  const port = Number(match[2]);
  if (trimmed.startsWith('[') && isIP(host) !== 6) return { ok: false, problems: [`'${host}' is not an IPv6 address`] };
  const min = options.allowPortZero ? 0 : 1;
  if (!Number.isInteger(port) || port < min || port > 65535) return { ok: false, problems: [`port ${match[2]} of '${text}' is not in ${min}..65535`] };
  return { ok: true, value: { host, port } };
}

/** Where a listener listens: a TCP endpoint, or a Unix socket. */
export type ListenAddress = Endpoint | { path: string };

/** `host:port` (port 0 allowed: any free port), or `unix:/absolute/path` for a Unix socket. */
export function parseListenAddress(text: string): Parsed<ListenAddress> {
  const trimmed = text.trim();
  if (!trimmed.startsWith('unix:')) return parseHostPort(trimmed, { allowPortZero: true });
  const path = trimmed.slice('unix:'.length);
  if (!path.startsWith('/')) return { ok: false, problems: [`'${path}' is not an absolute path (unix:/…)`] };
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return { ok: false, problems: [`'${path}' is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes)`] };
  return { ok: true, value: { path } };
}

/**
 * `name=host:port,name=host:port`: every name must be one of `names`, and may appear once.
 * Returns the entries in the order given.
 */
export function parseEndpointList<N extends string>(
  text: string,
  names: readonly N[],
  options: { allowPortZero?: boolean } = {},
): Parsed<Array<{ name: N } & Endpoint>> {
  return parseNamedList(text, names, 'name=host:port', (value) => parseHostPort(value, options));
}

/** `name=host:port` or `name=unix:/path` lists, as parseEndpointList. */
export function parseListenList<N extends string>(text: string, names: readonly N[]): Parsed<Array<{ name: N } & ListenAddress>> {
  return parseNamedList(text, names, 'name=host:port or name=unix:/path', parseListenAddress);
}

function parseNamedList<N extends string, V extends object>(text: string, names: readonly N[], form: string, parseValue: (value: string) => Parsed<V>): Parsed<Array<{ name: N } & V>> {
  const problems: string[] = [];
  const entries: Array<{ name: N } & V> = [];
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) return { ok: false, problems: ['the list is empty'] };
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      problems.push(`'${part}' is not ${form}`);
      continue;
    }
    const name = part.slice(0, eq).trim();
    if (!(names as readonly string[]).includes(name)) {
      problems.push(`'${name}' is not one of ${names.join(', ')}`);
      continue;
    }
    if (entries.some((e) => e.name === name)) {
      problems.push(`'${name}' appears more than once`);
      continue;
    }
    const parsed = parseValue(part.slice(eq + 1));
    if (!parsed.ok) problems.push(...parsed.problems.map((p) => `${name}: ${p}`));
    else entries.push({ name: name as N, ...parsed.value });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: entries };
}

/** `host:port` as written in logs and CONNECT requests (IPv6 in brackets). */
export function formatEndpoint(endpoint: Endpoint): string {
  return isIP(endpoint.host) === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
