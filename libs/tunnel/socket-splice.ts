import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface SpliceOutcome {
  /** Bytes read from the downstream side (the host's) and handed to the upstream side. */
  upstreamBytes: number;
  /** Bytes read from the upstream side and handed to the downstream side. */
  downstreamBytes: number;
  /** True when both directions ended with an orderly end of stream. */
  clean: boolean;
  /** The first socket error, if any. */
  error?: Error;
}

/** The most plaintext node's TLS hands on in one piece (one 'data' event). */
const TLS_PIECE_BYTES = 16 * 1024;

/**
 * Joins two connected sockets, both created with allowHalfOpen: bytes flow both ways
 * through pipe() (backpressure, and writes left as they come so the TLS layer can
 * coalesce them); the end of one side's reading ends the other side's writing, and the
 * other direction keeps flowing until it ends too. A side that closes without an orderly
 * end (reset, error, destroy) takes the other side down with it: a plain TCP side is reset
 * (RST), so a broken stream is not passed on as a complete one. A TLS side can only be
 * closed (there is no reset under TLS in node).
 */
export class SocketSplice {
  upstreamBytes = 0;
  downstreamBytes = 0;
  readonly done: Promise<SpliceOutcome>;
  private error: Error | undefined;

  constructor(
    readonly downstream: Socket,
    readonly upstream: Socket,
  ) {
    let closed = 0;
    let clean = true;
    let resolveDone!: (outcome: SpliceOutcome) => void;
    this.done = new Promise((resolve) => (resolveDone = resolve));
    const join = (from: Socket, to: Socket, count: (n: number) => void): void => {
      if (from instanceof TLSSocket && !(to instanceof TLSSocket)) {
        // TLS hands decrypted data on in pieces of at most 16 KiB, several in a row for one
        // read from the network: gather those of one turn of the event loop into one write
        // (one system call) on the plain side. Only from a full piece on (more is likely to
        // follow): a small message is written at once. This listener runs before pipe()'s own.
        let corked = false;
        const flush = (): void => {
          corked = false;
          to.uncork();
        };
        from.on('data', (chunk: Buffer) => {
          count(chunk.length);
          if (!corked && chunk.length >= TLS_PIECE_BYTES && !to.destroyed) {
            corked = true;
            to.cork();
            setImmediate(flush);
          }
        });
      } else {
        from.on('data', (chunk: Buffer) => count(chunk.length));
      }
      from.on('error', (err) => (this.error ??= err));
      from.on('close', () => {
        const orderly = from.readableEnded && from.writableFinished;
        if (!orderly) {
          clean = false;
          abortSocket(to);
        }
        closed += 1;
        if (closed === 2) resolveDone({ upstreamBytes: this.upstreamBytes, downstreamBytes: this.downstreamBytes, clean, error: this.error });
      });
      from.pipe(to);
    };
    join(downstream, upstream, (n) => (this.upstreamBytes += n));
    join(upstream, downstream, (n) => (this.downstreamBytes += n));
  }

  /** Tears both sides down at once (shutdown). */
  destroy(): void {
    this.downstream.destroy();
    this.upstream.destroy();
  }
}

/**
 * Takes a socket down because its partner broke: a plain TCP socket with a reset (RST).
 * Not once its own end is under way: the system cannot reset a socket whose shutdown is
 * pending, and node, asked to, then neither closes the handle nor says so but by an
 * 'error' (EINVAL), which leaks the descriptor and keeps the process from ever exiting.
 * The peer already has this side's end then, so a plain close tells it no less.
 */
export function abortSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket instanceof TLSSocket || socket.connecting || socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}
