import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy that a test can cut, stall and restore, to play a broker, a database
 * or a network that goes away: cut() drops every connection and refuses new ones on the same
 * port; stall() keeps every connection open but forwards nothing, and accepts new ones that
 * never get an answer (a server that hangs). restore() brings back what either took away.
 */
export class CuttableProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Client sockets accepted while stalled, waiting for restore() to reach the target. */
  private readonly waiting = new Set<Socket>();
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private stalled = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    const server = createServer((client) => {
      this.track(client);
      if (this.stalled) {
        client.pause();
        this.waiting.add(client);
        client.on('close', () => this.waiting.delete(client));
        return;
      }
      this.forward(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.stalled = false;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Nothing goes through any more, in either direction, and nothing is closed: a hang. */
  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async restore(): Promise<void> {
    if (this.stalled) {
      this.stalled = false;
      for (const { client, upstream } of this.pairs) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
      for (const client of this.waiting) this.forward(client);
      this.waiting.clear();
    }
    if (!this.server) await this.start(this.port);
  }

  private forward(client: Socket): void {
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => (upstream.destroy(), this.pairs.delete(pair)));
    upstream.on('close', () => (client.destroy(), this.pairs.delete(pair)));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }
}
