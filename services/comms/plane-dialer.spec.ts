import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Logger } from '#logging';
import { DEFAULT_TUNNEL_CIPHERS } from '../../libs/tunnel';
import { createTestCerts, type TestCerts } from '../../test/support/test-certs';
import { CommsMetrics } from './comms.metrics';
import { PlaneCredentials, type PlaneContexts } from './plane-credentials';
import { PlaneDialer } from './plane-dialer';

const quiet = new Logger('test', 'error', { write: () => undefined });

/**
 * A TLS server standing in for the ingress: greets each connection, counts TCP connections
 * and what it was sent. `clientOrder`: the client's order of cipher suites decides, not the server's.
 */
async function startPlane(
  t: { after(fn: () => unknown): void },
  certs: TestCerts,
  groups?: string,
  clientOrder = false,
): Promise<{ server: Server; port: number; connections: () => number; received: string[] }> {
  let connections = 0;
  const received: string[] = [];
  const server = createServer(
    { cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key), ALPNProtocols: ['pf9-http'], ecdhCurve: groups, honorCipherOrder: !clientOrder },
    (socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      socket.on('error', () => undefined);
      socket.write('hello');
    },
  );
  // Every TCP connection, also those whose handshake fails or that the client drops at once.
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections, received };
}

/**
 * A TCP server in front of the plane that does to its n-th connection (from 1) what `decide`
 * says: pass it on, reset it, or accept it and never answer.
 */
async function startGate(
  t: { after(fn: () => unknown): void },
  planePort: number,
  decide: (n: number) => 'pass' | 'reset' | 'stall',
): Promise<{ port: number; seen: () => number }> {
  let seen = 0;
  const stalled: Socket[] = [];
  const gate = createTcpServer((socket: Socket) => {
    seen += 1;
    socket.on('error', () => undefined);
    const action = decide(seen);
    if (action === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    if (action === 'stall') {
      stalled.push(socket);
      return;
    }
    const upstream = tcpConnect(planePort, '127.0.0.1');
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of stalled) socket.destroy();
    return new Promise<void>((resolve) => gate.close(() => resolve()));
  });
  return { port: (gate.address() as AddressInfo).port, seen: () => seen };
}

function contextsFor(certs: TestCerts, tlsGroups?: string, tlsCiphers = DEFAULT_TUNNEL_CIPHERS): PlaneContexts {
  const credentials = new PlaneCredentials({ ca: { file: certs.ca.cert, required: true }, hostCert: { certFile: certs.host.cert, keyFile: certs.host.key }, tlsGroups, tlsCiphers }, quiet, () => undefined);
  const result = credentials.context(true);
  assert.ok(result.ok, 'usable credentials');
  return result.contexts;
}

interface Dialed {
  resumed: boolean;
  group: string | undefined;
}

/**
 * One connection through the dialer, sending `payload` once the plane greeted it (by then
 * the plane's session tickets have arrived, ahead of its data, so the next dial can resume).
 */
async function dialOnce(dialer: PlaneDialer, contexts: PlaneContexts, payload: string): Promise<Dialed> {
  const socket: TLSSocket = await dialer.dial('http', contexts, new AbortController().signal);
  const info = socket.getEphemeralKeyInfo();
  const dialed = { resumed: socket.isSessionReused(), group: info !== null && 'name' in info ? info.name : undefined };
  await sendAfterGreeting(socket, payload);
  return dialed;
}

/** Sends `payload` once the stand-in plane has greeted (its session tickets came before), and waits for the close. */
function sendAfterGreeting(socket: TLSSocket, payload: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('data', () => socket.end(payload));
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

async function metricValue(metrics: CommsMetrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('PlaneDialer: key exchange on resumption', () => {
  let certs: TestCerts;
  before(async () => {
    certs = await createTestCerts();
  });

  const dialerFor = (port: number, metrics: CommsMetrics, options: { now?: () => number; connectTimeoutMs?: number } = {}): PlaneDialer =>
    new PlaneDialer({ plane: { host: '127.0.0.1', port, servername: 'localhost' }, connectTimeoutMs: options.connectTimeoutMs ?? 5_000 }, metrics, quiet, options.now);

  test('a hybrid session is resumed with X25519 alone; one the plane declines is made again with the hybrid before a byte is sent', async (t) => {
    const plane = await startPlane(t, certs);
    const metrics = new CommsMetrics();
    const dialer = dialerFor(plane.port, metrics);
    const contexts = contextsFor(certs);
    assert.ok(contexts.resume !== undefined, 'the default groups have a classical part to resume with');

    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519MLKEM768' });
    assert.deepEqual(await dialOnce(dialer, contexts, 'two'), { resumed: true, group: 'X25519' });
    // The resumed session's successor keeps its post-quantum secret: still X25519 alone.
    assert.deepEqual(await dialOnce(dialer, contexts, 'three'), { resumed: true, group: 'X25519' });
    assert.equal(plane.connections(), 3);

    // New ticket keys, as after a restart: the kept session is declined.
    plane.server.setTicketKeys(randomBytes(48));
    assert.deepEqual(await dialOnce(dialer, contexts, 'four'), { resumed: false, group: 'X25519MLKEM768' });
    assert.equal(plane.connections(), 5, 'the declined resumption was a connection of its own');
    assert.equal(await metricValue(metrics, 'hostplane_comms_tls_resumptions_declined_total'), 1);
    assert.deepEqual(await dialOnce(dialer, contexts, 'five'), { resumed: true, group: 'X25519' });
    assert.deepEqual(plane.received, ['one', 'two', 'three', 'four', 'five'], 'the dropped connection carried nothing');
    assert.equal(await metricValue(metrics, 'hostplane_comms_tls_sessions_resumed_total'), 3);
  });

  test('a plane that takes the hybrid alone refuses X25519: the dialer resumes with the full groups from then on', async (t) => {
    const plane = await startPlane(t, certs, 'X25519MLKEM768');
    const metrics = new CommsMetrics();
    const dialer = dialerFor(plane.port, metrics);
    const contexts = contextsFor(certs);

    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519MLKEM768' });
    // The classical attempt fails in its handshake, then the session resumes with the hybrid; the next goes straight to it.
    assert.deepEqual(await dialOnce(dialer, contexts, 'two'), { resumed: true, group: 'X25519MLKEM768' });
    assert.equal(plane.connections(), 3);
    assert.deepEqual(await dialOnce(dialer, contexts, 'three'), { resumed: true, group: 'X25519MLKEM768' });
    assert.equal(plane.connections(), 4);
    assert.equal(await metricValue(metrics, 'hostplane_comms_upstream_failures_total'), 0, 'no connection was refused');
    assert.deepEqual(plane.received, ['one', 'two', 'three']);
  });

  test('a plane without the hybrid (OpenSSL 3.0 ingresses) is resumed as it was begun, without drops', async (t) => {
    const plane = await startPlane(t, certs, 'X25519:P-256');
    const metrics = new CommsMetrics();
    const dialer = dialerFor(plane.port, metrics);
    const contexts = contextsFor(certs);

    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519' });
    plane.server.setTicketKeys(randomBytes(48));
    // A classical session was never post-quantum: declining it is no reason to dial twice.
    assert.deepEqual(await dialOnce(dialer, contexts, 'two'), { resumed: false, group: 'X25519' });
    assert.deepEqual(await dialOnce(dialer, contexts, 'three'), { resumed: true, group: 'X25519' });
    assert.equal(plane.connections(), 3);
    assert.equal(await metricValue(metrics, 'hostplane_comms_tls_resumptions_declined_total'), 0);
  });

  test('PF9_TLS_GROUPS without a post-quantum group: one context, used for every handshake', async (t) => {
    const plane = await startPlane(t, certs);
    const dialer = dialerFor(plane.port, new CommsMetrics());
    const contexts = contextsFor(certs, 'P-256:X25519');
    assert.equal(contexts.resume, undefined);
    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'prime256v1' });
    assert.deepEqual(await dialOnce(dialer, contexts, 'two'), { resumed: true, group: 'prime256v1' });
  });

  test('cipher suites: TLS_AES_128_GCM_SHA256 first by default, for full handshakes and resumptions alike; PF9_TLS_CIPHERS changes them', async (t) => {
    // The stand-in plane has Node's default list (TLS_AES_256_GCM_SHA384 first) and follows the client's order.
    const plane = await startPlane(t, certs, undefined, true);
    const cipherOf = async (dialer: PlaneDialer, contexts: PlaneContexts): Promise<[boolean, string]> => {
      const socket = await dialer.dial('http', contexts, new AbortController().signal);
      const negotiated: [boolean, string] = [socket.isSessionReused(), socket.getCipher().name];
      await sendAfterGreeting(socket, '');
      return negotiated;
    };
    const byDefault = dialerFor(plane.port, new CommsMetrics());
    const defaults = contextsFor(certs);
    assert.deepEqual(await cipherOf(byDefault, defaults), [false, 'TLS_AES_128_GCM_SHA256']);
    assert.deepEqual(await cipherOf(byDefault, defaults), [true, 'TLS_AES_128_GCM_SHA256']);
    const configured = dialerFor(plane.port, new CommsMetrics());
    const aes256 = contextsFor(certs, undefined, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256');
    assert.deepEqual(await cipherOf(configured, aes256), [false, 'TLS_AES_256_GCM_SHA384']);
    assert.deepEqual(await cipherOf(configured, aes256), [true, 'TLS_AES_256_GCM_SHA384']);
  });

  test('a line of classical resumptions ends an hour after its hybrid handshake: then a new one', async (t) => {
    const plane = await startPlane(t, certs);
    const metrics = new CommsMetrics();
    let clock = 1_000_000;
    const dialer = dialerFor(plane.port, metrics, { now: () => clock });
    const contexts = contextsFor(certs);
    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519MLKEM768' });
    clock += 59 * 60_000;
    assert.deepEqual(await dialOnce(dialer, contexts, 'two'), { resumed: true, group: 'X25519' });
    clock += 2 * 60_000;
    assert.deepEqual(await dialOnce(dialer, contexts, 'three'), { resumed: false, group: 'X25519MLKEM768' });
    assert.deepEqual(await dialOnce(dialer, contexts, 'four'), { resumed: true, group: 'X25519' });
    assert.equal(plane.connections(), 4, 'no connection dropped');
    assert.equal(await metricValue(metrics, 'hostplane_comms_tls_resumptions_declined_total'), 0);
  });

  test('a classical resumption that fails otherwise (reset) fails the dial, and the next one makes a full handshake', async (t) => {
    const plane = await startPlane(t, certs);
    // In front of the plane: resets the connections it is told to, passes the others on.
    const reset = new Set<number>();
    const gate = await startGate(t, plane.port, (n) => (reset.has(n) ? 'reset' : 'pass'));
    const dialer = dialerFor(gate.port, new CommsMetrics());
    const contexts = contextsFor(certs);

    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519MLKEM768' });
    reset.add(2);
    await assert.rejects(dialer.dial('http', contexts, new AbortController().signal), (err: unknown) => (err as { code?: string }).code === 'ECONNRESET');
    assert.deepEqual(await dialOnce(dialer, contexts, 'three'), { resumed: false, group: 'X25519MLKEM768' });
    assert.deepEqual(await dialOnce(dialer, contexts, 'four'), { resumed: true, group: 'X25519' }, 'not mistaken for a plane that refuses X25519');
  });

  test('a second attempt shares the first one\'s time: a dial never takes longer than TCP and TLS once', async (t) => {
    const plane = await startPlane(t, certs, 'X25519MLKEM768');
    // In front of the plane: the third connection is accepted and never answered.
    const gate = await startGate(t, plane.port, (n) => (n === 3 ? 'stall' : 'pass'));
    let clock = 0;
    const dialer = dialerFor(gate.port, new CommsMetrics(), { now: () => clock, connectTimeoutMs: 1_000 });
    const contexts = contextsFor(certs);
    assert.deepEqual(await dialOnce(dialer, contexts, 'one'), { resumed: false, group: 'X25519MLKEM768' });
    // The classical attempt is refused (connection 2) as if it had taken 1.9 s of the 2 s; the retry (3) stalls.
    const dialing = dialer.dial('http', contexts, new AbortController().signal);
    clock = 1_900;
    await assert.rejects(dialing, /TLS handshake with .* not done within 100 ms/);
    assert.equal(gate.seen(), 3, 'the retry was the one that timed out');
  });
});
