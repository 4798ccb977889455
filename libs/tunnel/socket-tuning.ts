import type { Socket } from 'node:net';

/** Probes a silent peer after this long, so a dead host or plane does not hold a connection forever. */
export const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/** No Nagle (small request/reply traffic) and TCP keepalive, on every socket of the tunnel. */
export function tuneSocket(socket: Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
}
