import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { connect as tcpConnect, type AddressInfo, type NetConnectOpts, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { dirname, basename } from 'node:path';
import { Logger } from '#logging';
import { errorCode, errorMessage, formatEndpoint, hostBrokerUser, normalSerial, SocketSplice, SOCKET_BUFFER_BYTES, startAdminServer, TunnelServices, tuneSocket, watchCertificates, type Endpoint } from '../../libs/tunnel';
import { gateAmqpLogin } from './amqp-login.gate';
import { clientIdentity } from './client-identity';
import { IngressCredentials, type IngressTls } from './ingress-credentials';
import type { IngressConfig } from './ingress.config';
import { IngressMetrics } from './ingress.metrics';

export interface RunningIngress {
  close(): Promise<void>;
  /** The TLS port actually bound. */
  port: number;
  adminUrl: string;
  /** Reads the certificate, key and CA files again if they changed (also done every PF9_INGRESS_CERT_RECHECK_MS); true when new ones are in use. */
  reloadCertificates(): boolean;
}

export interface IngressHealth {
  status: 'ok';
  port: number;
  routes: Record<string, string>;
  connectionsOpen: number;
}

/** The one route a host may use before it has a certificate. */
const JOIN = TunnelServices.join;
/** Before ALPN has named a route. */
const NO_ROUTE = 'none';
/** The route whose logins the ingress reads: a host logs in to the broker as itself only. */
const AMQP = TunnelServices.amqp;
/** A change of the CRL's folder is acted on after this pause, so that one write is one reload. */
const WATCH_SETTLE_MS = 50;

/**
 * The plane's TLS terminator: each connection is routed by its ALPN protocol to a backend;
 * every route but registration needs a host certificate that chains to the plane's CA.
 */
export async function startIngress(config: IngressConfig, deps: { logger?: Logger } = {}): Promise<RunningIngress> {
  const logger = deps.logger ?? new Logger('ingress', config.logLevel);
  const metrics = new IngressMetrics();
  const routes = new Map<string, Endpoint>(config.routes.map((r) => [r.protocol, { host: r.host, port: r.port }]));
  const credentials = new IngressCredentials(config.tls, { minVersion: 'TLSv1.2', ecdhCurve: config.tlsGroups, ciphers: config.tlsCiphers });
  const expiry = (tls: IngressTls): void => metrics.certificateNotAfter.set(tls.notAfter.getTime() / 1000);
  expiry(credentials.current);

  const sockets = new Set<Socket>();
  /** Open connections that a host certificate opened, with its serial: closed at once when the CRL withdraws it. */
  const certified = new Map<TLSSocket, { serial: string; hostId?: string; route: string }>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  // Accept time of each raw connection, to time the handshake (keyed by the peer's address and port).
  const acceptedAt = new Map<string, number>();
  const peerKey = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

  const server = createServer({
    ...credentials.current.options,
    ALPNProtocols: [...routes.keys()],
    // Asked for, not required by TLS itself: the join route works without one, the others check below.
    requestCert: true,
    rejectUnauthorized: false,
    // Half-open only once the handshake is done (below): a client that leaves before it
    // (comms probing whether the plane answers) must not hold a socket until the timeout.
    allowHalfOpen: false,
    handshakeTimeout: config.handshakeTimeoutMs,
  });

  server.on('connection', (raw: Socket) => {
    tuneSocket(raw);
    track(raw);
    const k = peerKey(raw);
    acceptedAt.set(k, performance.now());
    raw.once('close', () => acceptedAt.delete(k));
  });

  server.on('tlsClientError', (err, socket) => {
    const code = errorCode(err);
    const remote = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
    // A client that connects and leaves without a handshake (comms probing whether the plane answers).
    if (code === 'ECONNRESET' || /disconnected before secure TLS connection/.test(err.message)) {
      logger.debug('connection closed before the TLS handshake', { remote, code });
      return;
    }
    const cause = code === 'ERR_SSL_NO_APPLICATION_PROTOCOL' ? 'alpn' : code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : 'handshake';
    metrics.failure(NO_ROUTE, cause);
    const why = cause === 'alpn' ? 'the client asked for no ALPN protocol this ingress routes' : cause === 'handshake-timeout' ? 'handshake not done in time' : opensslReason(err);
    logger.warn(`TLS handshake refused: ${why}`, { remote, cause, code, routes: [...routes.keys()] });
  });

  server.on('secureConnection', (socket: TLSSocket) => {
    socket.allowHalfOpen = true;
    track(socket);
    socket.on('error', (err) => logger.debug('client connection error', { err: errorMessage(err) }));
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const started = acceptedAt.get(peerKey(socket));
    const protocol = socket.alpnProtocol;
    const route = typeof protocol === 'string' ? routes.get(protocol) : undefined;
    const label = route !== undefined && typeof protocol === 'string' ? protocol : NO_ROUTE;
    if (started !== undefined) metrics.handshake(label, (performance.now() - started) / 1000, socket.isSessionReused());
    const identity = clientIdentity(socket);
    const refuse = (cause: string, msg: string, fields: Record<string, unknown> = {}): void => {
      metrics.failure(label, cause);
      logger.warn(msg, { route: label, cause, remote, hostId: identity.hostId, ...fields });
      socket.destroy();
    };

    if (route === undefined || typeof protocol !== 'string') {
      refuse('alpn', protocol === false ? 'no ALPN protocol: connection closed' : `no route for ALPN protocol ${String(protocol)}: connection closed`);
      return;
    }
    if (protocol !== JOIN && !identity.authorized) {
      const refusal = identity.refusal;
      refuse(refusal?.cause ?? 'invalid', `${refusal?.reason ?? 'client certificate refused'}: connection closed`, { authorizationError: refusal?.code });
      return;
    }
    logger.info('connection accepted', {
      route: protocol,
      hostId: identity.authorized ? identity.hostId : undefined,
      certificate: identity.authorized ? 'valid' : identity.presented ? 'invalid' : 'none',
      resumed: socket.isSessionReused(),
      remote,
    });
    if (identity.serial !== undefined) {
      certified.set(socket, { serial: normalSerial(identity.serial), hostId: identity.hostId, route: protocol });
      socket.once('close', () => certified.delete(socket));
    }

    // highWaterMark is honoured by net.connect (the socket's stream buffers) though not in its type.
    const backendOptions: NetConnectOpts & { highWaterMark: number } = { host: route.host, port: route.port, allowHalfOpen: true, highWaterMark: SOCKET_BUFFER_BYTES };
    const backend = tcpConnect(backendOptions);
    track(backend);
    const timer = setTimeout(() => backend.destroy(Object.assign(new Error(`no connection within ${config.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), config.connectTimeoutMs);
    const onBackendError = (err: Error): void => {
      clearTimeout(timer);
      refuse('backend', `backend ${formatEndpoint(route)} unreachable: connection closed`, { code: errorCode(err), reason: errorMessage(err) });
    };
    backend.once('error', onBackendError);
    // The client may leave while the backend connects.
    const onClientGone = (): void => {
      clearTimeout(timer);
      backend.destroy();
    };
    socket.once('close', onClientGone);
    backend.once('connect', () => {
      clearTimeout(timer);
      backend.off('error', onBackendError);
      socket.off('close', onClientGone);
      backend.on('error', (err) => logger.debug('backend connection error', { route: protocol, err: errorMessage(err) }));
      tuneSocket(backend);
      if (protocol !== AMQP) {
        metrics.track(protocol, new SocketSplice(socket, backend));
        return;
      }
      const own = identity.hostId === undefined ? undefined : hostBrokerUser(identity.hostId);
      const allowed = (username: string): boolean => username === own || (config.sharedBrokerUser !== undefined && username === config.sharedBrokerUser);
      void gateAmqpLogin(socket, backend, allowed, config.handshakeTimeoutMs).then((login) => {
        if (!login.allowed) {
          metrics.failure(protocol, 'amqp-login');
          logger.warn(`AMQP login refused: ${login.reason}: connection closed`, { route: protocol, cause: 'amqp-login', remote, hostId: identity.hostId, username: login.username });
          return;
        }
        if (login.username !== own) logger.warn('AMQP login as the shared broker user (PF9_INSECURE_SHARED_BROKER_USER): this host can act as every host', { hostId: identity.hostId, username: login.username });
        const splice = new SocketSplice(socket, backend);
        splice.upstreamBytes += login.carried.upstream;
        splice.downstreamBytes += login.carried.downstream;
        metrics.track(protocol, splice);
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('listener error', { err: errorMessage(err) }));
  const port = (server.address() as AddressInfo).port;

  const health = (): IngressHealth => ({
    status: 'ok',
    port,
    routes: Object.fromEntries([...routes].map(([protocol, endpoint]) => [protocol, formatEndpoint(endpoint)])),
    connectionsOpen: metrics.openConnections,
  });
  let admin;
  try {
    admin = await startAdminServer(config.admin, metrics.registry, health, logger);
  } catch (err) {
    server.close();
    throw err;
  }
  logger.info('ingress listening', {
    listen: formatEndpoint({ host: config.listen.host, port }),
    routes: health().routes,
    admin: admin.url,
    certificateNotAfter: credentials.current.notAfter.toISOString(),
  });

  /** A certificate withdrawn since its connection opened (a decommissioned host): that connection goes now, not at its end. */
  const closeWithdrawn = (withdrawn: ReadonlySet<string>): void => {
    for (const [socket, held] of certified) {
      if (!withdrawn.has(held.serial)) continue;
      certified.delete(socket);
      metrics.failure(held.route, 'revoked-closed');
      logger.warn('certificate revoked: its open connection closed', { route: held.route, hostId: held.hostId, serial: held.serial });
      socket.destroy();
    }
  };

  // Renewed certificates and a rotated CA apply to new connections; open ones keep theirs,
  // except those of a certificate the CRL withdrew.
  const certificates = watchCertificates({
    reload: () => credentials.reloadIfChanged(),
    apply: (tls) => {
      server.setSecureContext(tls.options);
      // Sessions made before are not resumed: a resumption does not check the client's
      // certificate again, so one revoked meanwhile would keep working. (Node 24's
      // setSecureContext already drops the ticket keys; this does not rely on it.)
      server.setTicketKeys(randomBytes(48));
      expiry(tls);
      closeWithdrawn(tls.withdrawnSerials);
    },
    describe: (tls) => ({ certFile: config.tls.certFile, caFile: config.tls.caFile, certificateNotAfter: tls.notAfter.toISOString() }),
    everyMs: config.certRecheckMs,
    logger,
  });

  // The CRL's folder is watched too, so that a revocation takes effect at once rather than at the next recheck.
  let settle: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(config.tls.crlFile), { persistent: false }, (_event, file) => {
      if (file !== null && file !== basename(config.tls.crlFile)) return;
      clearTimeout(settle);
      settle = setTimeout(() => certificates.reloadNow(), WATCH_SETTLE_MS);
    });
    watcher.on('error', (err) => logger.warn('cannot watch the CRL folder: changes are seen at the next recheck', { reason: errorMessage(err) }));
  } catch (err) {
    logger.warn('cannot watch the CRL folder: changes are seen at the next recheck', { dir: dirname(config.tls.crlFile), reason: errorMessage(err) });
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    adminUrl: admin.url,
    reloadCertificates: certificates.reloadNow,
    close: () =>
      (closing ??= (async () => {
        certificates.stop();
        clearTimeout(settle);
        watcher?.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all([closed, admin.close()]);
      })()),
  };
}

/** OpenSSL's short reason ("http request", "wrong version number") rather than its error stack. */
function opensslReason(err: Error): string {
  const reason = (err as Error & { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : errorMessage(err);
}
