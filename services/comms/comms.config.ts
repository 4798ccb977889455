import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { errorCode, formatEndpoint, parseHostPort, parseListenList, PkiFiles, readTlsCiphers, readTlsGroups, TunnelServices, type Endpoint, type ListenAddress, type TunnelService } from '../../libs/tunnel';
import type { BackoffOptions } from '../../libs/amqp/backoff';
import { parseLogLevel, type LogLevel } from '#logging';
import { readStopWithParent } from '../../libs/lifetime';

/** Where to go for the plane: through an HTTP proxy with CONNECT, when one is configured. */
export interface ProxyConfig extends Endpoint {
  /** `user:password` from the proxy URL, decoded, for Proxy-Authorization: Basic. */
  auth?: string;
  /** The URL without its password, for logs. */
  display: string;
}

/** A local listener: a TCP port, or a Unix socket (`path`) in a folder only comms's user may enter. */
export type CommsListener = { service: TunnelService } & ListenAddress;

export interface CommsConfig {
  listen: CommsListener[];
  plane: Endpoint & { servername: string };
  /** The CA bundle that the plane's certificate must chain to; when not `required`, the system's CAs while the file is absent. */
  ca: { file: string; required: boolean };
  /** The host certificate and key (written by the host agent at registration). */
  hostCert: { certFile: string; keyFile: string };
  /** Key exchange groups offered to the plane, most preferred first (OpenSSL syntax); OpenSSL's own when unset. */
  tlsGroups?: string;
  /** Cipher suites offered, most preferred first (OpenSSL syntax, TLS 1.3 suites by name); DEFAULT_TUNNEL_CIPHERS unless PF9_TLS_CIPHERS. */
  tlsCiphers: string;
  proxy?: ProxyConfig;
  admin: Endpoint;
  connectTimeoutMs: number;
  /** Background probing of an unreachable plane. */
  backoff: BackoffOptions;
  logLevel: LogLevel;
  /** PF9_STOP_WITH_PARENT=1: stop when the pipe on standard input ends (the host agent that started comms is gone). */
  stopWithParent: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid pf9-comms configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_LISTEN = 'amqp=127.0.0.1:5672,http=127.0.0.1:9080,join=127.0.0.1:9079';

/**
 * pf9-comms's environment, read here and nowhere else, validated once at boot: every bad
 * variable is reported, not just the first.
 */
export function loadCommsConfig(env: Record<string, string | undefined> = process.env): CommsConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const services = Object.keys(TunnelServices) as TunnelService[];
  const listen = parseListenList(value('PF9_COMMS_LISTEN') ?? DEFAULT_LISTEN, services);
  if (!listen.ok) problems.push(...listen.problems.map((p) => `PF9_COMMS_LISTEN: ${p}`));
  const allowRemoteListen = flag(value('PF9_COMMS_ALLOW_REMOTE_LISTEN'), 'PF9_COMMS_ALLOW_REMOTE_LISTEN', problems);
  if (listen.ok && !allowRemoteListen) problems.push(...remoteListeners(listen.value));

  const planeHost = value('PF9_PLANE_HOST');
  if (planeHost === undefined) problems.push('PF9_PLANE_HOST: required (the plane ingress host name or address)');
  else if (/[\s/:]/.test(planeHost) && isIP(planeHost) !== 6) problems.push(`PF9_PLANE_HOST: '${planeHost}' is not a host name or address`);
  const planePort = port(value('PF9_PLANE_PORT'), 443, 'PF9_PLANE_PORT', problems);
  const servername = value('PF9_PLANE_SERVERNAME') ?? planeHost ?? '';

  const root = resolve(value('PF9_ROOT') ?? '/');
  const caOverride = value('PF9_CA_FILE');
  const ca = caOverride !== undefined ? { file: resolve(caOverride), required: true } : { file: join(root, PkiFiles.host.caCert), required: false };
  const caUnreadable = unreadableFile(ca.file);
  if (caUnreadable !== undefined) {
    problems.push(
      caOverride !== undefined
        ? `PF9_CA_FILE: ${ca.file} cannot be read (${caUnreadable})`
        : `PF9_CA_FILE: the default CA file ${ca.file} is there but cannot be read (${caUnreadable}); comms would otherwise trust the system's CAs instead`,
    );
  }
  const hostCert = {
    certFile: resolve(value('PF9_CERT_FILE') ?? join(root, PkiFiles.host.cert)),
    keyFile: resolve(value('PF9_KEY_FILE') ?? join(root, PkiFiles.host.key)),
  };

  const tlsGroups = readTlsGroups(value('PF9_TLS_GROUPS'), problems);
  const tlsCiphers = readTlsCiphers(value('PF9_TLS_CIPHERS'), problems);

  const admin = parseHostPort(value('PF9_COMMS_ADMIN') ?? '127.0.0.1:9092', { allowPortZero: true });
  if (!admin.ok) problems.push(...admin.problems.map((p) => `PF9_COMMS_ADMIN: ${p}`));

  const connectTimeoutMs = integer(value('PF9_COMMS_CONNECT_TIMEOUT_MS'), 10_000, 'PF9_COMMS_CONNECT_TIMEOUT_MS', 1, problems);
  const backoffInitialMs = integer(value('PF9_COMMS_RETRY_INITIAL_MS'), 500, 'PF9_COMMS_RETRY_INITIAL_MS', 1, problems);
  const backoffMaxMs = integer(value('PF9_COMMS_RETRY_MAX_MS'), 30_000, 'PF9_COMMS_RETRY_MAX_MS', 1, problems);

  const logLevelText = value('PF9_LOG_LEVEL');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevelText !== undefined && logLevel !== logLevelText) problems.push(`PF9_LOG_LEVEL: '${logLevelText}' is not one of debug, info, warn, error`);

  const proxy = proxyFromEnv(env, value, planeHost ?? '', planePort, problems);
  const stopWithParent = readStopWithParent(value('PF9_STOP_WITH_PARENT'));
  if (!stopWithParent.ok) problems.push(`PF9_STOP_WITH_PARENT: ${stopWithParent.problem}`);

  if (problems.length > 0 || !listen.ok || !admin.ok || planeHost === undefined) throw new ConfigError(problems);
  return {
    listen: listen.value.map(({ name, ...address }) => ({ service: name, ...address })),
    plane: { host: planeHost, port: planePort, servername },
    ca,
    hostCert,
    tlsGroups,
    tlsCiphers,
    proxy,
    admin: admin.value,
    connectTimeoutMs,
    backoff: { initialMs: backoffInitialMs, maxMs: Math.max(backoffMaxMs, backoffInitialMs), factor: 2 },
    logLevel,
    stopWithParent: stopWithParent.ok && stopWithParent.value,
  };
}

/**
 * Listeners on anything but loopback: whoever reaches such a port speaks to the plane with
 * this host's certificate, so it takes PF9_COMMS_ALLOW_REMOTE_LISTEN=1 to mean it.
 */
/** TCP listeners off loopback (a Unix socket is local by nature). */
function remoteListeners(listen: ReadonlyArray<{ name: string } & ListenAddress>): string[] {
  const remote = listen.flatMap((l) => ('host' in l && !isLoopback(l.host) ? [`${l.name} on ${formatEndpoint(l)}`] : []));
  if (remote.length === 0) return [];
  const which = remote.length === 1 ? `${remote[0]} is not a loopback address` : `${remote.slice(0, -1).join(', ')} and ${remote.at(-1)} are not loopback addresses`;
  return [`PF9_COMMS_LISTEN: ${which}: anyone who reaches ${remote.length === 1 ? 'it' : 'them'} speaks to the plane as this host; set PF9_COMMS_ALLOW_REMOTE_LISTEN=1 if that is meant`];
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const loopback = new BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  const family = isIP(host);
  return family !== 0 && loopback.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/** Why a file that is there cannot be read (EACCES, EISDIR, …); undefined when it reads, or is not there. */
function unreadableFile(file: string): string | undefined {
  try {
    readFileSync(file);
    return undefined;
  } catch (err) {
    const code = errorCode(err) ?? String(err);
    return code === 'ENOENT' ? undefined : code;
  }
}

function flag(text: string | undefined, name: string, problems: string[]): boolean {
  if (text === undefined || text === '0') return false;
  if (text === '1') return true;
  problems.push(`${name}: '${text}' is not 1 or 0`);
  return false;
}

/**
 * PF9_COMMS_PROXY when set (always used); otherwise HTTPS_PROXY / https_proxy unless
 * NO_PROXY / no_proxy names the plane. Only http:// proxies (CONNECT, then TLS inside).
 */
function proxyFromEnv(
  env: Record<string, string | undefined>,
  value: (name: string) => string | undefined,
  planeHost: string,
  planePort: number,
  problems: string[],
): ProxyConfig | undefined {
  const own = value('PF9_COMMS_PROXY');
  const name = own !== undefined ? 'PF9_COMMS_PROXY' : value('HTTPS_PROXY') !== undefined ? 'HTTPS_PROXY' : 'https_proxy';
  const text = own ?? value('HTTPS_PROXY') ?? value('https_proxy');
  if (text === undefined) return undefined;
  if (own === undefined && planeHost !== '' && noProxyMatches(env.NO_PROXY ?? env.no_proxy ?? '', planeHost, planePort)) return undefined;
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    problems.push(`${name}: '${text}' is not a URL`);
    return undefined;
  }
  if (url.protocol !== 'http:') {
    problems.push(`${name}: only http:// proxies are supported (CONNECT, then TLS to the plane inside), not ${url.protocol}//`);
    return undefined;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 80 : Number(url.port);
  const auth = url.username !== '' ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined;
  const display = `http://${url.username !== '' ? `${url.username}:***@` : ''}${url.host}`;
  return { host, port, auth, display };
}

/**
 * NO_PROXY as curl and Go read it: `*`; host names matching themselves and their
 * subdomains (`example.com`, `.example.com`); addresses and CIDR blocks; an optional
 * `:port` restricts an entry to that port.
 */
export function noProxyMatches(noProxy: string, host: string, port: number): boolean {
  const target = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const family = isIP(target);
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = splitPort(raw.trim().toLowerCase());
    if (entry.name === '') continue;
    if (entry.name === '*') return true;
    if (entry.port !== undefined && entry.port !== port) continue;
    if (family !== 0) {
      if (entry.name === target || inSubnet(entry.name, target, family)) return true;
      continue;
    }
    const domain = entry.name.replace(/^\*?\./, '');
    if (target === domain || target.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function splitPort(entry: string): { name: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1], port: bracketed[2] === undefined ? undefined : Number(bracketed[2]) };
  if (entry.indexOf(':') !== entry.lastIndexOf(':')) return { name: entry }; // a bare IPv6 address or block
  const withPort = /^([^:]+):(\d+)$/.exec(entry);
  return withPort ? { name: withPort[1], port: Number(withPort[2]) } : { name: entry };
}

function inSubnet(block: string, address: string, family: number): boolean {
  const [net, bits] = block.split('/');
  if (bits === undefined || !/^\d+$/.test(bits) || isIP(net) !== family) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  try {
    list.addSubnet(net, Number(bits), type);
  } catch {
    return false;
  }
  return list.check(address, type);
}

function integer(text: string | undefined, fallback: number, name: string, min: number, problems: string[]): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    problems.push(`${name}: '${text}' is not an integer >= ${min}`);
    return fallback;
  }
  return Number(text);
}

function port(text: string | undefined, fallback: number, name: string, problems: string[]): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    problems.push(`${name}: '${text}' is not a port (1..65535)`);
    return fallback;
  }
  return Number(text);
}
