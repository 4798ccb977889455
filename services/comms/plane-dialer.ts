import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from '#logging';
import {
  errorCode,
  formatEndpoint,
  isPostQuantumGroup,
  peerAlert,
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
  /** When the full handshake its line of resumptions began with was made (performance.now()). */
  rootedAt: number;
}

/**
 * A line of resumptions with classical key exchange goes back at most this far to its
 * hybrid full handshake; then a new one is made (certificates checked again, the secret
 * behind the ticket renewed). One full handshake an hour costs nothing that shows.
 */
const POST_QUANTUM_LINE_MS = 60 * 60 * 1000;

/** Alerts with which a plane says it will not take the key exchange it was offered; not those about certificates or ALPN. */
const GROUP_REFUSALS: ReadonlySet<string> = new Set(['HANDSHAKE_FAILURE', 'INSUFFICIENT_SECURITY', 'ILLEGAL_PARAMETER']);

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
    private readonly now: () => number = () => performance.now(),
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
    // TCP (or CONNECT) and TLS have connectTimeoutMs each; a second attempt shares that budget.
    const deadline = this.now() + 2 * this.config.connectTimeoutMs;
    const kept = this.sessions.get(service);
    if (kept?.postQuantum !== true || contexts.resume === undefined || this.classicalResumptionRefused) {
      return this.handshake(service, contexts.full, kept, signal, deadline);
    }
    if (this.now() - kept.rootedAt > POST_QUANTUM_LINE_MS) return this.handshake(service, contexts.full, undefined, signal, deadline);
    let socket: TLSSocket;
    try {
      socket = await this.handshake(service, contexts.resume, kept, signal, deadline, true);
    } catch (err) {
      if (signal.aborted) throw err;
      const code = errorCode(err);
      if (!GROUP_REFUSALS.has(peerAlert(code) ?? '')) {
        // Something else went wrong: the next dial makes a full handshake rather than try this again.
        if (this.sessions.get(service) === kept) this.sessions.delete(service);
        throw err;
      }
      this.classicalResumptionRefused = true;
      this.logger.info('the plane refused a resumption with classical key exchange: resuming with the full groups from now on', { tunnel: service, code });
      return this.handshake(service, contexts.full, kept, signal, deadline);
    }
    if (socket.isSessionReused() || isPostQuantumGroup(negotiatedGroup(socket))) return socket;
    // The plane declined the session: that was a classical full handshake. Nothing was sent on it.
    socket.destroy();
    this.metrics.resumptionsDeclined.inc({ service });
    return this.handshake(service, contexts.full, undefined, signal, deadline);
  }

  /**
   * TCP, then a TLS handshake offering `kept` for resumption (timed); keeps the sessions it
   * brings, except those of a `classicalAttempt` the plane did not resume (dial drops it).
   */
  private async handshake(
    service: TunnelService,
    context: SecureContext,
    kept: KeptSession | undefined,
    signal: AbortSignal,
    deadline: number,
    classicalAttempt = false,
  ): Promise<TLSSocket> {
    const tcp = await this.connectTcp(signal, deadline);
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
    const started = this.now();
    const timeoutMs = this.timeLeft(deadline);
    const socket = tlsConnect(options);
    socket.on('session', (ticket: Buffer) => {
      const resumed = socket.isSessionReused();
      const group = negotiatedGroup(socket);
      // A classical attempt that turned into a full handshake is about to be dropped: none of its sessions.
      if (classicalAttempt && !resumed) return;
      // A resumption carries its session's secret on; a hybrid exchange adds its own.
      const inherited = resumed && kept !== undefined;
      const postQuantum = (inherited && kept.postQuantum) || isPostQuantumGroup(group);
      const rootedAt = inherited && kept.postQuantum ? kept.rootedAt : started;
      this.sessions.set(service, { ticket, postQuantum, rootedAt });
    });
    await whenReady(socket, 'secureConnect', signal, timeoutMs, () =>
      new TunnelError('timeout', `TLS handshake with ${this.describe()} not done within ${timeoutMs} ms`, 'ETIMEDOUT'),
      () =>
        socket.alpnProtocol === protocol
          ? undefined
          : new TunnelError('tls', `${this.describe()} did not accept ALPN protocol ${protocol} (is it the plane's ingress?)`, 'ALPN_REFUSED'),
    );
    this.metrics.handshake(service, (this.now() - started) / 1000, socket.isSessionReused());
    return socket;
  }

  /** What is left of a dial's time for one more step: connectTimeoutMs at most, and at least 1 ms. */
  private timeLeft(deadline: number): number {
    return Math.max(1, Math.min(this.config.connectTimeoutMs, Math.floor(deadline - this.now())));
  }

  describe(): string {
    const plane = formatEndpoint(this.config.plane);
    return this.config.proxy ? `${plane} (through proxy ${this.config.proxy.display})` : plane;
  }

  private async connectTcp(signal: AbortSignal, deadline = this.now() + this.config.connectTimeoutMs): Promise<Socket> {
    const { plane, proxy } = this.config;
    const timeoutMs = this.timeLeft(deadline);
    const socket = proxy ? await connectThroughProxy(proxy, plane, timeoutMs, signal) : await connectDirect(plane, timeoutMs, signal);
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
