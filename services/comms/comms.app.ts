import { chmod } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { prepareSocketPath, SOCKET_MODE } from '#private-fs';
import { Logger } from '#logging';
import {
  errorCode,
  errorMessage,
  failureCause,
  peerAlert,
  formatEndpoint,
  SocketSplice,
  SOCKET_BUFFER_BYTES,
  startAdminServer,
  TunnelServices,
  tuneSocket,
  type FailureCause,
  type TunnelService,
} from '../../libs/tunnel';
import type { CommsConfig } from './comms.config';
import { CommsMetrics } from './comms.metrics';
import { PlaneCredentials } from './plane-credentials';
import { PlaneDialer } from './plane-dialer';
import { PlaneReachability, type PlaneState } from './plane-reachability';

export interface RunningComms {
  /** Stops listening, ends every tunnel, stops the admin server and the probing. */
  close(): Promise<void>;
  adminUrl: string;
  /** Port actually bound per configured TCP service (useful with port 0). */
  listeners: Partial<Record<TunnelService, number>>;
  /** Unix socket per configured socket service. */
  sockets: Partial<Record<TunnelService, string>>;
  /** Whether the plane answers, as /healthz reports it. */
  planeState(): PlaneState;
}

export interface CommsHealth {
  status: 'ok' | 'degraded';
  plane: PlaneState;
  listeners: Partial<Record<TunnelService, number>>;
  /** There when some services listen on Unix sockets. */
  sockets?: Partial<Record<TunnelService, string>>;
  connectionsOpen: number;
}

/** Causes that say the plane cannot be reached (as opposed to refusing us). */
const NETWORK_CAUSES: ReadonlySet<FailureCause> = new Set<FailureCause>(['refused', 'timeout', 'dns', 'unreachable', 'proxy']);

/**
 * pf9-comms: every connection accepted on a local port becomes its own TLS connection to the
 * plane's ingress, with the service's ALPN protocol, and bytes flow both ways until both
 * sides have ended.
 */
export async function startComms(config: CommsConfig, deps: { logger?: Logger } = {}): Promise<RunningComms> {
  const logger = deps.logger ?? new Logger('comms', config.logLevel);
  const metrics = new CommsMetrics();
  const dialer = new PlaneDialer(config, metrics, logger);
  const credentials = new PlaneCredentials(config, logger, () => dialer.forgetSessions());
  const reachability = new PlaneReachability(() => dialer.probe(), config.backoff, logger, (state) => metrics.planeReachable.set(state === 'reachable' ? 1 : 0));

  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const refuse = (service: TunnelService, local: Socket, cause: string, msg: string, fields: Record<string, unknown>): void => {
    metrics.failure(service, cause);
    logger.warn(msg, { tunnel: service, cause, client: local.remotePort, ...fields });
    local.destroy();
  };

  const accept = (service: TunnelService, local: Socket): void => {
    track(local);
    local.on('error', (err) => logger.debug('local connection error', { tunnel: service, err: errorMessage(err) }));
    if (reachability.state === 'unreachable') {
      refuse(service, local, 'plane-unreachable', 'plane unreachable: local connection closed', { plane: dialer.describe() });
      return;
    }
    const credential = credentials.context(service !== 'join');
    if (!credential.ok) {
      refuse(service, local, credential.problem.cause, 'cannot open a tunnel: local connection closed', { reason: credential.problem.message });
      return;
    }
    // A local client is on this host: no keepalive (its tunnel to the plane has one, and the
    // AMQP heartbeat or the HTTP timeouts behind the ingress end what a vanished client leaves).
    tuneSocket(local, { keepAlive: false });
    const aborted = new AbortController();
    const onLocalGone = (): void => aborted.abort();
    local.once('close', onLocalGone);
    dialer.dial(service, credential.contexts, aborted.signal).then(
      (upstream) => {
        local.off('close', onLocalGone);
        reachability.markReachable();
        track(upstream);
        if (local.destroyed) {
          upstream.destroy();
          return;
        }
        const splice = new SocketSplice(local, upstream);
        metrics.track(service, splice);
        // Per-connection lines only at debug level; their fields cost system calls (the peer's port).
        if (logger.enabled('debug')) {
          logger.debug('tunnel open', { tunnel: service, client: local.remotePort, resumed: upstream.isSessionReused() });
          void splice.done.then((outcome) => {
            logger.debug('tunnel closed', { tunnel: service, up: outcome.upstreamBytes, down: outcome.downstreamBytes, clean: outcome.clean, err: outcome.error?.message });
          });
        }
      },
      (err: unknown) => {
        local.off('close', onLocalGone);
        if (aborted.signal.aborted) {
          logger.debug('local connection went away before the tunnel was up', { tunnel: service });
          return;
        }
        const cause = failureCause(err);
        if (NETWORK_CAUSES.has(cause)) reachability.markUnreachable(err);
        const code = errorCode(err);
        const msg =
          cause === 'tls'
            ? `TLS with the plane failed (${code ?? 'unknown'})`
            : NETWORK_CAUSES.has(cause)
              ? `plane unreachable (${code ?? cause})`
              : `connection to the plane failed (${code ?? cause})`;
        refuse(service, local, cause, `${msg}: local connection closed`, { plane: dialer.describe(), code, reason: errorMessage(err), hint: tlsHint(code, config) });
      },
    );
  };

  const servers: Server[] = [];
  const listeners: Partial<Record<TunnelService, number>> = {};
  const socketPaths: Partial<Record<TunnelService, string>> = {};
  try {
    for (const entry of config.listen) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: SOCKET_BUFFER_BYTES }, (socket) => accept(entry.service, socket));
      // A socket goes in a folder that is comms's own and closed to others, or nowhere.
      if ('path' in entry) await prepareSocketPath(entry.path);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const listening = (): void => {
          server.off('error', reject);
          resolve();
        };
        if ('path' in entry) server.listen(entry.path, listening);
        else server.listen(entry.port, entry.host, listening);
      });
      server.on('error', (err) => logger.error('listener error', { tunnel: entry.service, err: errorMessage(err) }));
      servers.push(server);
      if ('path' in entry) {
        await chmod(entry.path, SOCKET_MODE);
        socketPaths[entry.service] = entry.path;
      } else {
        listeners[entry.service] = (server.address() as AddressInfo).port;
      }
    }
  } catch (err) {
    for (const server of servers) server.close();
    throw err;
  }

  const health = (): CommsHealth => ({
    status: reachability.state === 'reachable' ? 'ok' : 'degraded',
    plane: reachability.state,
    listeners,
    ...(Object.keys(socketPaths).length > 0 ? { sockets: socketPaths } : {}),
    connectionsOpen: metrics.openConnections,
  });
  let admin;
  try {
    admin = await startAdminServer(config.admin, metrics.registry, health, logger);
  } catch (err) {
    for (const server of servers) server.close();
    throw err;
  }
  reachability.start();
  logger.info('pf9-comms listening', {
    listeners: Object.fromEntries(
      config.listen.map((l) => [l.service, `${'path' in l ? `unix:${l.path}` : formatEndpoint({ host: l.host, port: listeners[l.service] ?? l.port })} -> ${TunnelServices[l.service]}`]),
    ),
    plane: dialer.describe(),
    servername: config.plane.servername,
    admin: admin.url,
  });

  let closing: Promise<void> | undefined;
  return {
    adminUrl: admin.url,
    listeners,
    sockets: socketPaths,
    planeState: () => reachability.state,
    close: () =>
      (closing ??= (async () => {
        reachability.close();
        const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
        for (const socket of sockets) socket.destroy();
        await Promise.all([...closed, admin.close()]);
      })()),
  };
}

/** Alerts with which a plane refuses what comms offers: TLS version, cipher suites, key exchange groups. */
const HANDSHAKE_REFUSALS: ReadonlySet<string> = new Set(['HANDSHAKE_FAILURE', 'PROTOCOL_VERSION', 'INSUFFICIENT_SECURITY']);

/** What a certificate error usually means here, in words an operator can act on. */
function tlsHint(code: string | undefined, config: CommsConfig): string | undefined {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the plane's certificate does not name ${config.plane.servername} (PF9_PLANE_SERVERNAME)`;
  if (code === 'CERT_HAS_EXPIRED') return "the plane's certificate has expired";
  if (code !== undefined && /^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED)/.test(code)) {
    return `the plane's certificate does not chain to a trusted CA (${config.ca.file}${config.ca.required ? '' : ', or the system CAs while it is absent'})`;
  }
  if (HANDSHAKE_REFUSALS.has(peerAlert(code) ?? '')) {
    return 'the plane refused the handshake: no TLS version, cipher suite (PF9_TLS_CIPHERS) or key exchange group (PF9_TLS_GROUPS) in common with it';
  }
  return undefined;
}
