import { join, resolve } from 'node:path';
import { parseEndpointList, parseHostPort, PkiFiles, readTlsCiphers, readTlsGroups, TunnelServices, type Endpoint, type TunnelProtocol } from '../../libs/tunnel';
import { parseLogLevel, type LogLevel } from '#logging';
import { readStopWithParent } from '../../libs/lifetime';

export interface IngressRoute extends Endpoint {
  protocol: TunnelProtocol;
}

export interface IngressConfig {
  listen: Endpoint;
  /** Backend per ALPN protocol. */
  routes: IngressRoute[];
  /** The ingress's certificate and key, and the CA that host certificates must chain to. */
  /** crlFile: revoked host certificates (PEM CRL), used while the file exists. */
  tls: { certFile: string; keyFile: string; caFile: string; crlFile: string };
  /** Key exchange groups accepted from hosts, most preferred first (OpenSSL syntax); OpenSSL's own when unset. */
  tlsGroups?: string;
  /** Cipher suites accepted from hosts, in the order that decides (OpenSSL syntax, TLS 1.3 suites by name); DEFAULT_TUNNEL_CIPHERS unless PF9_TLS_CIPHERS. */
  tlsCiphers: string;
  admin: Endpoint;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  /** How often the certificate, key and CA files are looked at for changes. */
  certRecheckMs: number;
  /**
   * Insecure: a broker user every host's tunnel may also log in as (the identity hosts share
   * where the plane cannot give each its own). Unset: a tunnel logs in as its host's own user only.
   */
  sharedBrokerUser?: string;
  logLevel: LogLevel;
  /** PF9_STOP_WITH_PARENT=1: stop when the pipe on standard input ends (the all-in-one that started it is gone). */
  stopWithParent: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid ingress configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The ingress's environment, read here and nowhere else, validated once at boot.
 * PF9_INGRESS_ROUTES entries replace the default route of their protocol; protocols not
 * named keep theirs.
 */
export function loadIngressConfig(env: Record<string, string | undefined> = process.env): IngressConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  // Hosts reach the role store's package listener, not its REST API (the operators').
  const hostApiPort = portText(value('PF9_HOST_API_PORT'), '8078', 'PF9_HOST_API_PORT', problems);
  const joinPort = portText(value('PF9_JOIN_PORT'), '8079', 'PF9_JOIN_PORT', problems);
  const protocols = Object.values(TunnelServices);
  const defaults = parseEndpointList(`pf9-amqp=127.0.0.1:5672,pf9-http=127.0.0.1:${hostApiPort},pf9-join=127.0.0.1:${joinPort}`, protocols);
  const routes = new Map<TunnelProtocol, Endpoint>(defaults.ok ? defaults.value.map((r) => [r.name, { host: r.host, port: r.port }]) : []);
  const routesText = value('PF9_INGRESS_ROUTES');
  if (routesText !== undefined) {
    const given = parseEndpointList(routesText, protocols);
    if (!given.ok) problems.push(...given.problems.map((p) => `PF9_INGRESS_ROUTES: ${p}`));
    else for (const r of given.value) routes.set(r.name, { host: r.host, port: r.port });
  }

  const listen = parseHostPort(value('PF9_INGRESS_LISTEN') ?? '0.0.0.0:443', { allowPortZero: true });
  if (!listen.ok) problems.push(...listen.problems.map((p) => `PF9_INGRESS_LISTEN: ${p}`));
  const admin = parseHostPort(value('PF9_INGRESS_ADMIN') ?? '127.0.0.1:9093', { allowPortZero: true });
  if (!admin.ok) problems.push(...admin.problems.map((p) => `PF9_INGRESS_ADMIN: ${p}`));

  const dataDir = resolve(value('PF9_DATA_DIR') ?? './.data/plane');
  const tls = {
    certFile: resolve(value('PF9_INGRESS_CERT_FILE') ?? join(dataDir, PkiFiles.plane.ingressCert)),
    keyFile: resolve(value('PF9_INGRESS_KEY_FILE') ?? join(dataDir, PkiFiles.plane.ingressKey)),
    caFile: resolve(value('PF9_INGRESS_CA_FILE') ?? join(dataDir, PkiFiles.plane.caCert)),
    crlFile: resolve(value('PF9_INGRESS_CRL_FILE') ?? join(dataDir, PkiFiles.plane.hostCrl)),
  };
  const tlsGroups = readTlsGroups(value('PF9_TLS_GROUPS'), problems);
  const tlsCiphers = readTlsCiphers(value('PF9_TLS_CIPHERS'), problems);
  const handshakeTimeoutMs = integer(value('PF9_INGRESS_HANDSHAKE_TIMEOUT_MS'), 10_000, 'PF9_INGRESS_HANDSHAKE_TIMEOUT_MS', problems);
  const connectTimeoutMs = integer(value('PF9_INGRESS_CONNECT_TIMEOUT_MS'), 10_000, 'PF9_INGRESS_CONNECT_TIMEOUT_MS', problems);
  const certRecheckMs = integer(value('PF9_INGRESS_CERT_RECHECK_MS'), 10_000, 'PF9_INGRESS_CERT_RECHECK_MS', problems);
  // Beyond 2^31-1 ms a timer fires at once; a day is plenty.
  if (certRecheckMs > 86_400_000) problems.push(`PF9_INGRESS_CERT_RECHECK_MS: '${certRecheckMs}' is more than a day (86400000)`);
  const logLevelText = value('PF9_LOG_LEVEL');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevelText !== undefined && logLevel !== logLevelText) problems.push(`PF9_LOG_LEVEL: '${logLevelText}' is not one of debug, info, warn, error`);
  const stopWithParent = readStopWithParent(value('PF9_STOP_WITH_PARENT'));
  if (!stopWithParent.ok) problems.push(`PF9_STOP_WITH_PARENT: ${stopWithParent.problem}`);

  const sharedBrokerUser = value('PF9_INSECURE_SHARED_BROKER_USER');
  if (problems.length > 0 || !listen.ok || !admin.ok) throw new ConfigError(problems);
  return {
    listen: listen.value,
    routes: [...routes].map(([protocol, endpoint]) => ({ protocol, ...endpoint })),
    tls,
    tlsGroups,
    tlsCiphers,
    admin: admin.value,
    handshakeTimeoutMs,
    connectTimeoutMs,
    certRecheckMs,
    ...(sharedBrokerUser !== undefined ? { sharedBrokerUser } : {}),
    logLevel,
    stopWithParent: stopWithParent.ok && stopWithParent.value,
  };
}

function portText(text: string | undefined, fallback: string, name: string, problems: string[]): string {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    problems.push(`${name}: '${text}' is not a port (1..65535)`);
    return fallback;
  }
  return text;
}

function integer(text: string | undefined, fallback: number, name: string, problems: string[]): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    problems.push(`${name}: '${text}' is not an integer >= 1`);
    return fallback;
  }
  return Number(text);
}
