import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpensslPki } from '../../test/support/openssl-pki';
import { freePort, DIST } from '../../test/support/processes';
import { ServiceProcess } from '../../test/support/service-process';
import { startHaproxyIngress, type IngressSetup } from '../../test/support/stock-ingress';
import { say } from './progress';

/**
 * The four paths from the load client to the echo/sink server, each a pair of proxies
 * (host side: plain TCP in, TLS out with the host certificate and an ALPN protocol; plane
 * side: TLS in verifying the client certificate, plain TCP out), except the direct one.
 * comms + the ingress carry the load on pf9-http: on pf9-amqp the ingress first reads an
 * AMQP login, which the load (not AMQP) does not send; past the login both are one splice.
 */

export type PathKey = 'a' | 'b' | 'c' | 'd';

export interface RunningPath {
  key: PathKey;
  label: string;
  /** Where the load client connects. */
  entryPort: number;
  /** Host side first, plane side second (for their CPU time). */
  proxies: ServiceProcess[];
  stop(): Promise<void>;
}

export interface PathContext {
  dir: string;
  pki: OpensslPki;
  serverPort: number;
  /** HAProxy's nbthread for both of the pair. */
  haproxyThreads: number;
  /** Extra node options for comms and ingress (--cpu-prof …). */
  nodeOptions: string[];
  /** The entry points of comms and the ingress (another build, a candidate change). */
  commsMain: string;
  ingressMain: string;
}

const LOCAL = '127.0.0.1';

async function stopAll(proxies: ServiceProcess[]): Promise<void> {
  await Promise.all(proxies.map((p) => p.stop()));
}

/** Starts `procs` one after the other (host side last), stopping what started if one fails. */
async function startPair(starts: Array<() => Promise<ServiceProcess>>): Promise<ServiceProcess[]> {
  const started: ServiceProcess[] = [];
  try {
    for (const start of starts) started.push(await start());
    return started;
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

export function directPath(ctx: PathContext): RunningPath {
  return { key: 'a', label: 'direct TCP', entryPort: ctx.serverPort, proxies: [], stop: async () => undefined };
}

export const COMMS_MAIN = join(DIST, 'services/comms/main.js');
export const INGRESS_MAIN = join(DIST, 'services/ingress/main.js');

export function commsAvailable(ctx: Pick<PathContext, 'commsMain' | 'ingressMain'>): string | undefined {
  const missing = [ctx.commsMain, ctx.ingressMain].filter((file) => !existsSync(file));
  return missing.length === 0 ? undefined : `not built yet: ${missing.map((f) => f.replace(`${DIST}/`, 'dist/')).join(', ')}`;
}

/** The TLS 1.3 suites of Debian's OpenSSL 3.0 (HAProxy, stunnel), in its order. */
export const HAPROXY_TLS13_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** (b) pf9-comms and the ingress, each its own node process, configured as shipped unless `options` say otherwise. */
export async function commsIngressPath(ctx: PathContext, options: { tlsGroups?: string; tlsCiphers?: string } = {}): Promise<RunningPath> {
  const ingressPort = await freePort();
  const entryPort = await freePort();
  // Known admin ports, so that /metrics can be read during a run (the bench prints them).
  const ingressAdmin = await freePort();
  const commsAdmin = await freePort();
  const server = `${LOCAL}:${ctx.serverPort}`;
  // Both ends the same key exchange groups and cipher suites, when the row asks for other than their default.
  const tlsSettings = {
    ...(options.tlsGroups !== undefined ? { PF9_TLS_GROUPS: options.tlsGroups } : {}),
    ...(options.tlsCiphers !== undefined ? { PF9_TLS_CIPHERS: options.tlsCiphers } : {}),
  };
  const proxies = await startPair([
    () =>
      new ServiceProcess('ingress', process.execPath, [...ctx.nodeOptions, ctx.ingressMain], {
        logFile: join(ctx.dir, 'ingress.log'),
        env: {
          ...process.env,
          PF9_INGRESS_LISTEN: `${LOCAL}:${ingressPort}`,
          PF9_INGRESS_ROUTES: `pf9-amqp=${server},pf9-http=${server},pf9-join=${server}`,
          PF9_INGRESS_CERT_FILE: ctx.pki.serverCert,
          PF9_INGRESS_KEY_FILE: ctx.pki.serverKey,
          PF9_INGRESS_CA_FILE: ctx.pki.caCert,
          PF9_INGRESS_ADMIN: `${LOCAL}:${ingressAdmin}`,
          ...tlsSettings,
        },
      }).listening(LOCAL, ingressPort),
    () =>
      new ServiceProcess('comms', process.execPath, [...ctx.nodeOptions, ctx.commsMain], {
        logFile: join(ctx.dir, 'comms.log'),
        env: {
          ...process.env,
          PF9_COMMS_LISTEN: `http=${LOCAL}:${entryPort}`,
          PF9_PLANE_HOST: LOCAL,
          PF9_PLANE_PORT: String(ingressPort),
          PF9_PLANE_SERVERNAME: ctx.pki.planeName,
          PF9_CA_FILE: ctx.pki.caCert,
          PF9_CERT_FILE: ctx.pki.clientCert,
          PF9_KEY_FILE: ctx.pki.clientKey,
          PF9_COMMS_ADMIN: `${LOCAL}:${commsAdmin}`,
          ...tlsSettings,
        },
      }).listening(LOCAL, entryPort),
  ]);
  say(`(b) metrics: http://${LOCAL}:${commsAdmin}/metrics (comms), http://${LOCAL}:${ingressAdmin}/metrics (ingress)`);
  return { key: 'b', label: 'comms + ingress', entryPort, proxies: proxies.reverse(), stop: () => stopAll(proxies) };
}

/**
 * (c) A HAProxy pair. The plane side runs the shipped docker/haproxy/haproxy.cfg (every
 * route to the server); the host side is the smallest config that does comms' job.
 * `resume: false` turns TLS session reuse off on the host side (full handshakes only).
 */
export async function haproxyPath(ctx: PathContext, options: { resume: boolean }): Promise<RunningPath> {
  const planePort = await freePort();
  const entryPort = await freePort();
  const suffix = options.resume ? '' : '-noresume';
  const route = { host: LOCAL, port: ctx.serverPort };
  const setup: IngressSetup = { listen: { host: LOCAL, port: planePort }, pki: ctx.pki, routes: { amqp: route, http: route, join: route }, workDir: ctx.dir };
  const threads = join(ctx.dir, `haproxy-threads${suffix}.cfg`);
  writeFileSync(threads, `global\n    nbthread ${ctx.haproxyThreads}\n`);
  const hostConfig = join(ctx.dir, `haproxy-host${suffix}.cfg`);
  writeFileSync(
    hostConfig,
    [
      'global',
      `    nbthread ${ctx.haproxyThreads}`,
      '    maxconn 2000',
      'defaults',
      '    mode tcp',
      '    timeout connect 5s',
      '    timeout client 1m',
      '    timeout server 1m',
      'frontend amqp_local',
      `    bind ${LOCAL}:${entryPort}`,
      '    default_backend plane_amqp',
      'backend plane_amqp',
      `    server plane ${LOCAL}:${planePort} ssl crt ${ctx.pki.clientPem} ca-file ${ctx.pki.caCert} verify required sni str(${ctx.pki.planeName}) alpn pf9-amqp${options.resume ? '' : ' no-ssl-reuse'}`,
      '',
    ].join('\n'),
  );
  const proxies = await startPair([
    () => startHaproxyIngress(setup, [threads], join(ctx.dir, `haproxy-plane${suffix}.log`)),
    () => new ServiceProcess('haproxy (host side)', 'haproxy', ['-db', '-f', hostConfig], { logFile: join(ctx.dir, `haproxy-host${suffix}.log`) }).listening(LOCAL, entryPort),
  ]);
  return { key: 'c', label: options.resume ? 'HAProxy pair' : 'HAProxy pair, no session reuse', entryPort, proxies: proxies.reverse(), stop: () => stopAll(proxies) };
}

/**
 * (d) An stunnel pair. stunnel has no ALPN option, so the plane side forwards everything
 * to the server; otherwise the same job (client certificate verified against the CA,
 * server certificate checked against the plane's name).
 */
export async function stunnelPath(ctx: PathContext, options: { resume: boolean }): Promise<RunningPath> {
  const planePort = await freePort();
  const entryPort = await freePort();
  const suffix = options.resume ? '' : '-noresume';
  // debug = 3 (errors): stunnel logs every connection at its default level, HAProxy's
  // shipped config only the abnormal ones.
  const common = ['foreground = yes', 'pid =', 'syslog = no', 'debug = 3', ''];
  const planeConfig = join(ctx.dir, `stunnel-plane${suffix}.conf`);
  writeFileSync(
    planeConfig,
    [
      ...common,
      '[ingress]',
      `accept = ${LOCAL}:${planePort}`,
      `connect = ${LOCAL}:${ctx.serverPort}`,
      `cert = ${ctx.pki.serverCert}`,
      `key = ${ctx.pki.serverKey}`,
      `CAfile = ${ctx.pki.caCert}`,
      'verifyChain = yes',
      'requireCert = yes',
      '',
    ].join('\n'),
  );
  const hostConfig = join(ctx.dir, `stunnel-host${suffix}.conf`);
  writeFileSync(
    hostConfig,
    [
      ...common,
      '[amqp]',
      'client = yes',
      `accept = ${LOCAL}:${entryPort}`,
      `connect = ${LOCAL}:${planePort}`,
      `cert = ${ctx.pki.clientCert}`,
      `key = ${ctx.pki.clientKey}`,
      `CAfile = ${ctx.pki.caCert}`,
      'verifyChain = yes',
      `checkHost = ${ctx.pki.planeName}`,
      `sni = ${ctx.pki.planeName}`,
      `sessionResume = ${options.resume ? 'yes' : 'no'}`,
      '',
    ].join('\n'),
  );
  const proxies = await startPair([
    () => new ServiceProcess('stunnel (plane side)', 'stunnel', [planeConfig], { logFile: join(ctx.dir, `stunnel-plane${suffix}.log`) }).listening(LOCAL, planePort),
    () => new ServiceProcess('stunnel (host side)', 'stunnel', [hostConfig], { logFile: join(ctx.dir, `stunnel-host${suffix}.log`) }).listening(LOCAL, entryPort),
  ]);
  return { key: 'd', label: options.resume ? 'stunnel pair' : 'stunnel pair, no session reuse', entryPort, proxies: proxies.reverse(), stop: () => stopAll(proxies) };
}
