import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import { formatEndpoint, SOCKET_BUFFER_BYTES, TunnelError, TunnelServices, tuneSocket, type TunnelMetrics, type TunnelService } from '../../libs/tunnel';
import type { CommsConfig } from './comms.config';
import { connectThroughProxy } from './http-connect';

/**
 * Opens connections to the plane's ingress: TCP (directly or through the proxy's CONNECT),
 * then TLS with the service's ALPN protocol, SNI = the plane's name, the server certificate
 * checked against the CA, and the service's last session offered for resumption.
 */
export class PlaneDialer {
  private readonly sessions = new Map<TunnelService, Buffer>();

  constructor(
    private readonly config: Pick<CommsConfig, 'plane' | 'proxy' | 'connectTimeoutMs'>,
    private readonly metrics: TunnelMetrics,
  ) {}

  /** Forgets the sessions kept for resumption (the credentials changed). */
  forgetSessions(): void {
    this.sessions.clear();
  }

  /** Reachability only: a TCP connection (or a CONNECT tunnel) to the ingress, closed at once. */
  async probe(): Promise<void> {
    const socket = await this.connectTcp(new AbortController().signal);
    socket.destroy();
  }

  async dial(service: TunnelService, context: SecureContext, signal: AbortSignal): Promise<TLSSocket> {
    const tcp = await this.connectTcp(signal);
    const protocol = TunnelServices[service];
    const { servername } = this.config.plane;
    const started = performance.now();
    // allowHalfOpen and highWaterMark are honoured by tls.connect (the TLSSocket gets them) though not in its type.
    const options: ConnectionOptions & { allowHalfOpen: boolean; highWaterMark: number } = {
      socket: tcp,
      secureContext: context,
      ALPNProtocols: [protocol],
      session: this.sessions.get(service),
      rejectUnauthorized: true,
      allowHalfOpen: true,
      highWaterMark: SOCKET_BUFFER_BYTES,
      // SNI carries names only (RFC 6066); an address is still what the certificate must name.
      ...(isIP(servername) !== 0 ? { host: servername } : { servername }),
    };
    const socket = tlsConnect(options);
    socket.on('session', (session: Buffer) => this.sessions.set(service, session));
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
