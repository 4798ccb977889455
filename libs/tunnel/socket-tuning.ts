import type { Socket } from 'node:net';

/** Probes a silent peer after this long, so a dead host or plane does not hold a connection forever. */
export const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/**
 * Stream buffer size (readable and writable highWaterMark) of the tunnel's sockets. Node's
 * 16 KiB default makes pipe() pause and resume the reading side (a system call each way) for
 * almost every 64 KiB read, and leaves no room to gather the 16 KiB pieces TLS decrypts into
 * one write; backpressure still applies, past this many bytes.
 */
export const SOCKET_BUFFER_BYTES = 256 * 1024;

/**
 * No Nagle (small request/reply traffic) on every socket of the tunnel, and TCP keepalive
 * (four system calls) on those that cross a network, where a peer can vanish silently.
 */
export function tuneSocket(socket: Socket, options: { keepAlive: boolean } = { keepAlive: true }): void {
  socket.setNoDelay(true);
  if (options.keepAlive) socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
}
