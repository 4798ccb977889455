import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from '#logging';
import {
  errorCode,
  failureCause,
  formatEndpoint,
  isPostQuantumGroup,
  SOCKET_BUFFER_BYTES,
  TunnelError,
  TunnelServices,
  tuneSocket,
  type TunnelService,
} from '../../libs/tunnel';
import type { CommsConfig } from './comms.config';
import type { CommsMetrics } from './comms.metrics';
import { connectThroughProxy } from './http-connect';
import type { PlaneContexts } from './plane-credentials';

/** A session kept for resumption, and whether a post-quantum exchange went into its secret. */
interface KeptSession {
  ticket: Buffer;
  postQuantum: boolean;
}

/**
 * Opens connections to the plane's ingress: TCP (directly or through the proxy's CONNECT),
 * then TLS with the service's ALPN protocol, SNI = the plane's name, the server certificate
 * checked against the CA, and the service's last session offered for resumption.
 *
 * A full handshake offers the configured groups, so the post-quantum hybrid by default. A
 * session that such a handshake began is resumed with classical groups alone: the resumed
 * keys derive from its secret too, so they stay out of a quantum computer's reach, and the
 * hybrid's extra key generation and key share are spared. When the plane
 * does not take the session (its ticket expired, the ingress restarted), that handshake was
 * a classical full one: it is dropped before a byte is sent and made again with the hybrid.
 */
export class PlaneDialer {
  private readonly sessions = new Map<TunnelService, KeptSession>();
  /** The plane refused a classical resumption (it takes the hybrid alone): resume with the full groups. */
  private classicalResumptionRefused = false;

  constructor(
    private readonly config: Pick<CommsConfig, 'plane' | 'proxy' | 'connectTimeoutMs'>,
    private readonly metrics: CommsMetrics,
    private readonly logger: Logger,
  ) {}

  /** Forgets the sessions kept for resumption (the credentials changed). */
  forgetSessions(): void {
    this.sessions.clear();
    this.classicalResumptionRefused = false;
  }

  /** Reachability only: a TCP connection (or a CONNECT tunnel) to the ingress, closed at once. */
  async probe(): Promise<void> {
    const socket = await this.connectTcp(new AbortController().signal);
    socket.destroy();
  }

  async dial(service: TunnelService, contexts: PlaneContexts, signal: AbortSignal): Promise<TLSSocket> {
    const kept = this.sessions.get(service);
    let socket: TLSSocket;
    if (kept?.postQuantum === true && contexts.resume !== undefined && !this.classicalResumptionRefused) {
      socket = await this.handshake(service, contexts.resume, kept, signal).catch(async (err: unknown) => {
        // An OpenSSL alert rather than a certificate check: the plane wants a group offered only in full.
        if (signal.aborted || failureCause(err) !== 'tls' || !errorCode(err)?.startsWith('ERR_SSL_')) throw err;
        this.classicalResumptionRefused = true;
        this.logger.info('the plane refused a resumption with classical key exchange: resuming with the full groups from now on', { tunnel: service, code: errorCode(err) });
        return this.handshake(service, contexts.full, kept, signal);
      });
      if (!socket.isSessionReused() && !isPostQuantumGroup(negotiatedGroup(socket))) {
        socket.removeAllListeners('session');
        socket.destroy();
        this.metrics.resumptionsDeclined.inc({ service });
        socket = await this.handshake(service, contexts.full, undefined, signal);
      }
    } else {
      socket = await this.handshake(service, contexts.full, kept, signal);
    }
    return socket;
  }

  /** TCP, then a TLS handshake offering `kept` for resumption (timed); keeps the sessions it brings. */
  private async handshake(service: TunnelService, context: SecureContext, kept: KeptSession | undefined, signal: AbortSignal): Promise<TLSSocket> {
    const tcp = await this.connectTcp(signal);
    const protocol = TunnelServices[service];
    const { servername } = this.config.plane;
    // allowHalfOpen and highWaterMark are honoured by tls.connect (the TLSSocket gets them) though not in its type.
    const options: ConnectionOptions & { allowHalfOpen: boolean; highWaterMark: number } = {
      socket: tcp,
      secureContext: context,
      ALPNProtocols: [protocol],
      session: kept?.ticket,
      rejectUnauthorized: true,
      allowHalfOpen: true,
      highWaterMark: SOCKET_BUFFER_BYTES,
      // SNI carries names only (RFC 6066); an address is still what the certificate must name.
      ...(isIP(servername) !== 0 ? { host: servername } : { servername }),
    };
    const started = performance.now();
    const socket = tlsConnect(options);
    socket.on('session', (ticket: Buffer) => {
      // A resumption carries its session's secret on; a hybrid exchange adds its own.
      const postQuantum = (socket.isSessionReused() && kept?.postQuantum === true) || isPostQuantumGroup(negotiatedGroup(socket));
      this.sessions.set(service, { ticket, postQuantum });
    });
    await whenReady(socket, 'secureConnect', signal, this.config.connectTimeoutMs, () =>
      new TunnelError('timeout', `TLS handshake with ${this.describe()} not done within ${this.config.connectTimeoutMs} ms`, 'ETIMEDOUT'),
      () =>
        socket.alpnProtocol === protocol
          ? undefined
          : new TunnelError('tls', `${this.describe()} did not accept ALPN protocol ${protocol} (is it the plane's ingress?)`, 'ALPN_REFUSED'),
    );
    this.metrics.handshake(service, (performance.now() - started) / 1000, socket.isSessionReused());
    return socket;
  }

  describe(): string {
    const plane = formatEndpoint(this.config.plane);
    return this.config.proxy ? `${plane} (through proxy ${this.config.proxy.display})` : plane;
  }

  private async connectTcp(signal: AbortSignal): Promise<Socket> {
    const { plane, proxy, connectTimeoutMs } = this.config;
    const socket = proxy ? await connectThroughProxy(proxy, plane, connectTimeoutMs, signal) : await connectDirect(plane, connectTimeoutMs, signal);
    tuneSocket(socket);
    return socket;
  }
}

/** The key exchange group a client socket's handshake used (undefined for a TLS 1.2 resumption). */
function negotiatedGroup(socket: TLSSocket): string | undefined {
  const info = socket.getEphemeralKeyInfo();
  return info !== null && 'name' in info ? info.name : undefined;
}

function connectDirect(plane: { host: string; port: number }, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  const socket = tcpConnect({ host: plane.host, port: plane.port, allowHalfOpen: true });
  return whenReady(socket, 'connect', signal, timeoutMs, () => new TunnelError('timeout', `no TCP connection to ${formatEndpoint(plane)} within ${timeoutMs} ms`, 'ETIMEDOUT'));
}

/**
 * Resolves with the socket once `event` came and `check` finds nothing wrong; fails it
 * (destroyed) on an error, when the local connection goes away, or after timeoutMs.
 */
function whenReady<S extends Socket>(
  socket: S,
  event: 'connect' | 'secureConnect',
  signal: AbortSignal,
  timeoutMs: number,
  timeoutError: () => Error,
  check: () => Error | undefined = () => undefined,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', finish);
      if (err === undefined) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => finish(new TunnelError('other', 'the local connection went away', 'ABORTED'));
    const timer = setTimeout(() => finish(timeoutError()), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', finish);
    socket.once(event, () => finish(check()));
  });
}
