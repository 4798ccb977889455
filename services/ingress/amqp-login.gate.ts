import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { accessRefusedFrame, AMQP_PROTOCOL_HEADER, readAmqpLogin } from './amqp-login';

export type LoginGateOutcome =
  /** The login is one of the allowed users: the bytes held back went to the broker; splice from here. `carried`: bytes passed each way meanwhile. */
  | { allowed: true; username: string; carried: { upstream: number; downstream: number } }
  /** Refused (the client was told ACCESS_REFUSED where it spoke AMQP) or gone; both sockets are being closed. */
  | { allowed: false; reason: string; username?: string };

/**
 * Holds what a tunnelled client sends to the broker until its login has been read: the
 * protocol header goes through at once (the broker answers it with connection.start, which
 * goes back to the client), the start-ok frame only if it logs in as one of `allowed`.
 * Only the first few hundred bytes of a connection pass here; then the caller splices.
 */
export function gateAmqpLogin(client: TLSSocket, backend: Socket, allowed: (username: string) => boolean, timeoutMs: number): Promise<LoginGateOutcome> {
  return new Promise((resolve) => {
    let held: Buffer = Buffer.alloc(0);
    let headerSent = false;
    let upstream = 0;
    let downstream = 0;
    let settled = false;

    const cleanUp = (): void => {
      settled = true;
      clearTimeout(timer);
      client.off('data', fromClient);
      backend.off('data', fromBroker);
      client.off('close', gone);
      client.off('end', gone);
      backend.off('close', gone);
    };
    const refuse = (reason: string, username?: string, tellClient = true): void => {
      cleanUp();
      backend.destroy();
      if (tellClient && !client.destroyed) client.end(accessRefusedFrame(reason), () => client.destroy());
      else client.destroy();
      resolve({ allowed: false, reason, username });
    };
    const gone = (): void => {
      if (!settled) refuse('the connection closed before its login', undefined, false);
    };
    const fromBroker = (chunk: Buffer): void => {
      downstream += chunk.length;
      client.write(chunk);
    };
    const fromClient = (chunk: Buffer): void => {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const login = readAmqpLogin(held);
      if (login.kind === 'invalid') {
        // A client that did not even send the AMQP header gets no AMQP answer.
        refuse(login.reason, undefined, held.length >= AMQP_PROTOCOL_HEADER.length && held.subarray(0, AMQP_PROTOCOL_HEADER.length).equals(AMQP_PROTOCOL_HEADER));
        return;
      }
      if (!headerSent && held.length >= AMQP_PROTOCOL_HEADER.length) {
        headerSent = true;
        upstream += AMQP_PROTOCOL_HEADER.length;
        backend.write(held.subarray(0, AMQP_PROTOCOL_HEADER.length));
      }
      if (login.kind === 'incomplete') return;
      if (!allowed(login.username)) {
        refuse(`this tunnel may log in to the broker only as its host's own user, not as ${JSON.stringify(login.username)}`, login.username);
        return;
      }
      cleanUp();
      // Whatever follows arrives buffered until the splice pipes it.
      client.pause();
      backend.pause();
      const rest = held.subarray(AMQP_PROTOCOL_HEADER.length);
      upstream += rest.length;
      backend.write(rest);
      resolve({ allowed: true, username: login.username, carried: { upstream, downstream } });
    };
    const timer = setTimeout(() => refuse(`no AMQP login within ${timeoutMs} ms`, undefined, headerSent), timeoutMs);
    client.on('data', fromClient);
    backend.on('data', fromBroker);
    client.once('close', gone);
    // Its sending side ended before the login was complete: it will never be.
    client.once('end', gone);
    backend.once('close', gone);
  });
}
