import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import * as amqp from 'amqplib';
import { Logger, type LogSink } from '#logging';
import { startComms, type CommsHealth, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startIngress, type IngressHealth, type RunningIngress } from '../../services/ingress/ingress.app';
import { loadIngressConfig } from '../../services/ingress/ingress.config';
import { amqpLoginBytes } from '../support/amqp-login-frames';
import { tempDir } from '../support/fixtures';
import { createTestCerts, type CertFiles, type TestCerts } from '../support/test-certs';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

// ---------------------------------------------------------------------------------------
// Test rig: JSON log lines kept in memory, loopback backends, a plane (ingress) and a host
// (comms) started in this process with port-0 listeners.

type LogRecord = Record<string, unknown> & { msg: string; level: string };

class LogCapture implements LogSink {
  readonly records: LogRecord[] = [];
  write(line: string): void {
    this.records.push(JSON.parse(line) as LogRecord);
  }
  logger(service: string): Logger {
    return new Logger(service, 'debug', this);
  }
  find(predicate: (r: LogRecord) => boolean): LogRecord | undefined {
    return this.records.find(predicate);
  }
}

interface Backend {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** A TCP backend; by default it answers `<tag>|<everything it received>` once the client has ended its side. */
async function startBackend(t: TestContext, tag: string, handler?: (socket: Socket) => void): Promise<Backend> {
  const sockets = new Set<Socket>();
  const backend: Backend = { port: 0, connections: 0, close: async () => undefined };
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    backend.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (handler) return handler(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(Buffer.concat([Buffer.from(`${tag}|`), ...chunks])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  backend.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  t.after(() => backend.close());
  return backend;
}

interface Plane {
  ingress: RunningIngress;
  logs: LogCapture;
}

async function startPlane(
  t: TestContext,
  certs: TestCerts,
  routes: { amqp: number; http: number; join: number },
  options: { server?: CertFiles; port?: number; env?: Record<string, string> } = {},
): Promise<Plane> {
  const logs = new LogCapture();
  const server = options.server ?? certs.server;
  const config = loadIngressConfig({
    PF9_INGRESS_LISTEN: `127.0.0.1:${options.port ?? 0}`,
    PF9_INGRESS_ADMIN: '127.0.0.1:0',
    PF9_INGRESS_ROUTES: `pf9-amqp=127.0.0.1:${routes.amqp},pf9-http=127.0.0.1:${routes.http},pf9-join=127.0.0.1:${routes.join}`,
    PF9_INGRESS_CERT_FILE: server.cert,
    PF9_INGRESS_KEY_FILE: server.key,
    PF9_INGRESS_CA_FILE: certs.ca.cert,
    ...options.env,
  });
  const ingress = await startIngress(config, { logger: logs.logger('ingress') });
  t.after(() => ingress.close());
  return { ingress, logs };
}

/** A host root (PF9_ROOT) with the plane's CA and, unless told otherwise, the host certificate. */
async function hostRoot(certs: TestCerts, withHostCert = true): Promise<string> {
  const root = await tempDir('comms');
  await mkdir(join(root, 'etc/pf9/certs'), { recursive: true });
  await copyFile(certs.ca.cert, join(root, 'etc/pf9/certs/ca.crt'));
  if (withHostCert) await installHostCert(root, certs.host);
  return root;
}

async function installHostCert(root: string, files: CertFiles): Promise<void> {
  await copyFile(files.key, join(root, 'etc/pf9/certs/host.key'));
  await copyFile(files.cert, join(root, 'etc/pf9/certs/host.crt'));
}

interface Host {
  comms: RunningComms;
  logs: LogCapture;
  port(service: 'amqp' | 'http' | 'join'): number;
}

async function startHost(t: TestContext, planePort: number, root: string, env: Record<string, string> = {}): Promise<Host> {
  const logs = new LogCapture();
  const config = loadCommsConfig({
    PF9_PLANE_HOST: '127.0.0.1',
    PF9_PLANE_PORT: String(planePort),
    PF9_PLANE_SERVERNAME: 'localhost',
    PF9_ROOT: root,
    PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0,http=127.0.0.1:0,join=127.0.0.1:0',
    PF9_COMMS_ADMIN: '127.0.0.1:0',
    PF9_COMMS_RETRY_INITIAL_MS: '50',
    PF9_COMMS_RETRY_MAX_MS: '500',
    ...env,
  });
  const comms = await startComms(config, { logger: logs.logger('comms') });
  t.after(() => comms.close());
  return {
    comms,
    logs,
    port: (service) => {
      const port = comms.listeners[service];
      assert.ok(port !== undefined, `comms listens for ${service}`);
      return port;
    },
  };
}

interface Exchange {
  data: Buffer;
  /** Milliseconds from connect to close. */
  ms: number;
}

/** Connects, sends `payload`, ends its side, and keeps reading until the other side closes. */
function exchange(port: number, payload: Buffer | string): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), ms: performance.now() - started }));
  });
}

/** Reads until the other side ends, then sends `answer to: <what it read>` on the half still open. */
function halfCloseReply(port: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = '';
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('end', () => socket.end(`answer to: ${got}`));
    socket.on('close', () => resolve(got));
  });
}

/** A TLS client straight to the ingress (no comms), with the certificate and ALPN a test chooses. */
function tlsExchange(
  port: number,
  options: { alpn?: string[]; client?: CertFiles; ca: string; payload: string; groups?: string; ciphers?: string; maxVersion?: 'TLSv1.2' },
): Promise<{ data: string; error?: string; group?: string; serial?: string; cipher?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let error: string | undefined;
    let group: string | undefined;
    let serial: string | undefined;
    let cipher: string | undefined;
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(options.ca),
      ALPNProtocols: options.alpn,
      ecdhCurve: options.groups,
      ...(options.ciphers !== undefined ? { ciphers: options.ciphers } : {}),
      ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {}),
      ...(options.client ? { cert: readFileSync(options.client.cert), key: readFileSync(options.client.key) } : {}),
    });
    socket.on('secureConnect', () => {
      const info = socket.getEphemeralKeyInfo();
      group = info !== null && 'name' in info ? info.name : undefined;
      serial = socket.getPeerCertificate().serialNumber;
      cipher = socket.getCipher().name;
      socket.end(options.payload);
    });
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ data, error, group, serial, cipher }));
  });
}

/** One sample of a Prometheus metric (the first whose labels include `labels`), 0 when absent. */
async function metric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function health<T>(adminUrl: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${adminUrl}/healthz`);
  return { status: res.status, body: (await res.json()) as T };
}

// ---------------------------------------------------------------------------------------

describe('comms and ingress: the host\'s one TLS port', () => {
  let certs: TestCerts;

  before(async () => {
    certs = await createTestCerts();
  });

  after(async () => {
    await rm(certs.dir, { recursive: true, force: true });
  });

  async function threeBackends(t: TestContext): Promise<{ amqp: Backend; http: Backend; join: Backend }> {
    return { amqp: await startBackend(t, 'amqp'), http: await startBackend(t, 'http'), join: await startBackend(t, 'join') };
  }
  const ports = (b: { amqp: Backend; http: Backend; join: Backend }) => ({ amqp: b.amqp.port, http: b.http.port, join: b.join.port });

  test('routes each local port by ALPN to its backend, and the ingress logs the host id', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
    // The amqp route carries a connection once its AMQP login names the host's own broker user.
    const login = amqpLoginBytes({ username: `pf9-host-${certs.hostId}`, password: 'p' }).toString('latin1');
    for (const service of ['amqp', 'http', 'join'] as const) {
      const payload = `${service === 'amqp' ? login : ''}hello ${service}`;
      const { data } = await exchange(host.port(service), Buffer.from(payload, 'latin1'));
      assert.equal(data.toString('latin1'), `${service}|${payload}`);
    }
    assert.deepEqual([backends.amqp.connections, backends.http.connections, backends.join.connections], [1, 1, 1]);
    const accepted = plane.logs.find((r) => r.msg === 'connection accepted' && r.route === 'pf9-amqp');
    assert.ok(accepted, 'the ingress logs each accepted connection');
    assert.equal(accepted.hostId, certs.hostId);
    assert.equal(accepted.certificate, 'valid');
  });

  test('join works without a host certificate; other services wait for one, and use it once it is written', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const root = await hostRoot(certs, false);
    const host = await startHost(t, plane.ingress.port, root);

    const join = await exchange(host.port('join'), 'register me');
    assert.equal(join.data.toString(), 'join|register me');
    const joined = plane.logs.find((r) => r.msg === 'connection accepted' && r.route === 'pf9-join');
    assert.equal(joined?.certificate, 'none');

    const refused = await exchange(host.port('amqp'), 'too early');
    assert.equal(refused.data.length, 0, 'no tunnel without a host certificate');
    assert.equal(backends.amqp.connections, 0);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'amqp', cause: 'cert-missing' }), 1);
    assert.ok(host.logs.find((r) => r.cause === 'cert-missing' && /host has not registered/.test(String(r.reason))));

    await installHostCert(root, certs.host);
    const login = amqpLoginBytes({ username: `pf9-host-${certs.hostId}`, password: 'p' });
    const later = await exchange(host.port('amqp'), Buffer.concat([login, Buffer.from('registered now')]));
    assert.equal(later.data.toString('latin1'), `amqp|${login.toString('latin1')}registered now`);
  });

  test('every route but join refuses a missing, expired, foreign or host-less client certificate, before any backend connection', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const port = plane.ingress.port;
    const ca = certs.ca.cert;
    const cases: Array<{ client?: CertFiles; cause: string; route: string }> = [
      { cause: 'missing', route: 'pf9-amqp' },
      { client: certs.expiredHost, cause: 'expired', route: 'pf9-amqp' },
      { client: certs.foreignHost, cause: 'untrusted', route: 'pf9-http' },
      { client: certs.anonymousClient, cause: 'not-a-host', route: 'pf9-amqp' },
    ];
    for (const c of cases) {
      const result = await tlsExchange(port, { alpn: [c.route], client: c.client, ca, payload: 'let me in' });
      assert.equal(result.data, '', `${c.cause}: nothing comes back`);
      assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_refusals_total', { route: c.route, cause: c.cause }), 1, `${c.cause} is counted`);
      const line = plane.logs.find((r) => r.cause === c.cause);
      assert.ok(line, `${c.cause} is logged`);
      assert.match(line.msg, /client certificate|connection closed/);
    }
    assert.equal(plane.logs.find((r) => r.cause === 'expired')?.authorizationError, 'CERT_HAS_EXPIRED');
    assert.equal(backends.amqp.connections + backends.http.connections, 0, 'the backends never saw a connection');

    // The join route takes the same clients.
    const joined = await tlsExchange(port, { alpn: ['pf9-join'], ca, payload: 'hi' });
    assert.equal(joined.data, 'join|hi');

    // Unknown or missing ALPN: closed, logged, counted.
    const unknown = await tlsExchange(port, { alpn: ['h2'], client: certs.host, ca, payload: 'x' });
    assert.equal(unknown.data, '');
    const none = await tlsExchange(port, { client: certs.host, ca, payload: 'x' });
    assert.equal(none.data, '');
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_refusals_total', { route: 'none', cause: 'alpn' }), 2);
    assert.ok(plane.logs.find((r) => r.msg === 'no ALPN protocol: connection closed'));
    assert.ok(plane.logs.find((r) => r.cause === 'alpn' && r.code === 'ERR_SSL_NO_APPLICATION_PROTOCOL'));
  });

  for (const c of [
    { name: 'untrusted', server: (k: TestCerts) => k.foreignServer, code: /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/ },
    { name: 'wrong-name', server: (k: TestCerts) => k.wrongNameServer, code: /^ERR_TLS_CERT_ALTNAME_INVALID$/ },
  ]) {
    test(`comms refuses a plane with an ${c.name} server certificate, and closes the local connection promptly`, async (t) => {
      const backends = await threeBackends(t);
      const plane = await startPlane(t, certs, ports(backends), { server: c.server(certs) });
      const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
      const result = await exchange(host.port('http'), 'secret');
      assert.equal(result.data.length, 0);
      assert.ok(result.ms < 2_000, `closed after ${result.ms.toFixed(0)} ms`);
      const line = host.logs.find((r) => r.cause === 'tls');
      assert.ok(line, 'a log line says why');
      assert.match(String(line.code), c.code);
      assert.match(line.msg, /TLS with the plane failed/);
      assert.ok(typeof line.hint === 'string' && line.hint.length > 0, 'with a hint');
      assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'tls' }), 1);
      assert.equal(backends.http.connections, 0);
      assert.notEqual(host.comms.planeState(), 'unreachable', 'a certificate problem is not an unreachable plane');
    });
  }

  test('plane unreachable at start: local connections are closed at once, and work once the ingress comes up', async (t) => {
    const backends = await threeBackends(t);
    const planePort = await freePort();
    const host = await startHost(t, planePort, await hostRoot(certs));
    const first = await exchange(host.port('http'), 'anyone?');
    assert.equal(first.data.length, 0);
    assert.ok(first.ms < 1_000, `closed after ${first.ms.toFixed(0)} ms, the connect timeout being 10 s`);
    await waitFor('comms to call the plane unreachable', () => host.comms.planeState() === 'unreachable');
    const second = await exchange(host.port('amqp'), 'anyone?');
    assert.equal(second.data.length, 0);
    assert.ok(second.ms < 1_000);
    assert.ok(host.logs.find((r) => r.msg === 'plane unreachable: local connection closed'));
    const down = await health<CommsHealth>(host.comms.adminUrl);
    assert.equal(down.status, 200);
    assert.equal(down.body.plane, 'unreachable');

    await startPlane(t, certs, ports(backends), { port: planePort });
    const answer = await waitFor(
      'a local connection to work again',
      async () => {
        const { data } = await exchange(host.port('http'), 'back?');
        return data.length > 0 ? data.toString() : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.equal(answer, 'http|back?');
    assert.equal((await health<CommsHealth>(host.comms.adminUrl)).body.plane, 'reachable');
    assert.ok(host.logs.find((r) => r.msg === 'plane reachable again'));
  });

  test('a plane that accepts TCP but never finishes the handshake: the connect timeout closes the local connection', async (t) => {
    const silent = await startBackend(t, 'silent', () => undefined);
    const host = await startHost(t, silent.port, await hostRoot(certs), { PF9_COMMS_CONNECT_TIMEOUT_MS: '300' });
    const result = await exchange(host.port('http'), 'hello?');
    assert.equal(result.data.length, 0);
    assert.ok(result.ms >= 250 && result.ms < 3_000, `closed after ${result.ms.toFixed(0)} ms with a 300 ms timeout`);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'timeout' }), 1);
    const line = host.logs.find((r) => r.cause === 'timeout');
    assert.equal(line?.code, 'ETIMEDOUT');
    assert.match(String(line?.reason), /TLS handshake .* not done within 300 ms/);
  });

  test('200 concurrent local connections each get their own payload back', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
    const payloads = Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from(`#${i}:`), randomBytes(4096 + i)]));
    const results = await Promise.all(payloads.map((p) => exchange(host.port('http'), p)));
    results.forEach((r, i) => assert.ok(r.data.equals(Buffer.concat([Buffer.from('http|'), payloads[i]])), `connection ${i} got its own bytes back`));
    assert.equal(backends.http.connections, 200);
    await waitFor('connections to close', async () => (await metric(host.comms.adminUrl, 'hostplane_comms_connections_open', { service: 'http' })) === 0);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_connections_total', { service: 'http' }), 200);
  });

  test('1 GiB through one connection arrives intact, in bounded memory', { timeout: 300_000 }, async (t) => {
    const sink = await startBackend(t, 'sink', (socket) => {
      const hash = createHash('sha256');
      let bytes = 0;
      socket.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
      });
      socket.on('end', () => socket.end(`${bytes} ${hash.digest('hex')}`));
    });
    const plane = await startPlane(t, certs, { amqp: sink.port, http: sink.port, join: sink.port });
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));

    const total = 1024 ** 3;
    const block = randomBytes(1024 * 1024);
    const sent = createHash('sha256');
    const rssBefore = process.memoryUsage().rss;
    let rssMax = rssBefore;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
    const started = performance.now();
    const reply = await new Promise<string>((resolve, reject) => {
      let answer = '';
      const socket = connect({ host: '127.0.0.1', port: host.port('http'), allowHalfOpen: true });
      socket.on('error', reject);
      socket.on('data', (c: Buffer) => (answer += c.toString()));
      socket.on('end', () => {
        socket.end();
        resolve(answer);
      });
      socket.on('connect', async () => {
        for (let written = 0; written < total; written += block.length) {
          sent.update(block);
          if (!socket.write(block)) await new Promise((r) => socket.once('drain', r));
        }
        socket.end();
      });
    });
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`1 GiB in ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s, everything in one process), RSS growth ${((rssMax - rssBefore) / 1e6).toFixed(0)} MB`);
    assert.equal(reply, `${total} ${sent.digest('hex')}`);
    assert.ok(rssMax - rssBefore < 200e6, `RSS grew by ${((rssMax - rssBefore) / 1e6).toFixed(0)} MB`);
    await waitFor('byte counters to settle', async () => (await metric(host.comms.adminUrl, 'hostplane_comms_connections_open', { service: 'http' })) === 0);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_bytes_total', { service: 'http', direction: 'upstream' }), total);
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_bytes_total', { route: 'pf9-http', direction: 'upstream' }), total);
  });

  test('half-close: the client ends first and still gets the answer; the backend ends first and still gets the reply', async (t) => {
    // Client ends first: the echo backend answers only after it has seen the end.
    const backends = await threeBackends(t);
    let replyAfterEnd = '';
    const backendEndsFirst = await startBackend(t, 'first', (socket) => {
      socket.end('question from the plane');
      socket.on('data', (c: Buffer) => (replyAfterEnd += c.toString()));
    });
    const plane = await startPlane(t, certs, { amqp: backends.amqp.port, http: backends.http.port, join: backendEndsFirst.port });
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
    const clientFirst = await exchange(host.port('http'), 'question from the host');
    assert.equal(clientFirst.data.toString(), 'http|question from the host');

    // Backend ends first: the client reads to the end, then sends its reply on the half still open.
    assert.equal(await halfCloseReply(host.port('join')), 'question from the plane');
    await waitFor('the backend to get the reply sent after its own end', () => replyAfterEnd === 'answer to: question from the plane');
  });

  test('goes through an HTTP CONNECT proxy when HTTPS_PROXY is set', async (t) => {
    const backends = await threeBackends(t);
    let replyAfterEnd = '';
    const backendEndsFirst = await startBackend(t, 'first', (socket) => {
      socket.end('question from the plane');
      socket.on('data', (c: Buffer) => (replyAfterEnd += c.toString()));
    });
    const plane = await startPlane(t, certs, { ...ports(backends), join: backendEndsFirst.port });
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    let refuseWith: number | undefined;
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    const proxied = new Set<Socket>();
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      seen.push({ url: req.url ?? '', auth: req.headers['proxy-authorization'] });
      proxied.add(client);
      client.on('error', () => undefined);
      if (refuseWith !== undefined) {
        client.end(`HTTP/1.1 ${refuseWith} Nope\r\n\r\n`);
        return;
      }
      const [hostname, port] = (req.url ?? '').split(':');
      const upstream = connect({ host: hostname, port: Number(port), allowHalfOpen: true }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) => {
          for (const s of proxied) s.destroy();
          proxy.close(() => resolve());
        }),
    );
    const proxyPort = (proxy.address() as AddressInfo).port;
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs), { HTTPS_PROXY: `http://tester:s%40cret@127.0.0.1:${proxyPort}`, NO_PROXY: 'example.com' });

    const { data } = await exchange(host.port('http'), 'via proxy');
    assert.equal(data.toString(), 'http|via proxy');
    const connects = seen.filter((s) => s.url === `127.0.0.1:${plane.ingress.port}`);
    assert.ok(connects.length >= 1, `the proxy saw CONNECT 127.0.0.1:${plane.ingress.port} (saw ${JSON.stringify(seen.map((s) => s.url))})`);
    assert.equal(connects[0].auth, `Basic ${Buffer.from('tester:s@cret').toString('base64')}`);

    // Half-close holds through the proxy too: the plane side ends first, the host still replies.
    const greeting = await halfCloseReply(host.port('join'));
    assert.equal(greeting, 'question from the plane');
    await waitFor('the reply sent after the backend ended', () => replyAfterEnd === 'answer to: question from the plane');

    // A proxy that says no: the local connection is closed and the cause counted.
    refuseWith = 403;
    const refused = await exchange(host.port('http'), 'via proxy again');
    assert.equal(refused.data.length, 0);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'proxy' }), 1);
    assert.ok(host.logs.find((r) => r.cause === 'proxy' && /answered 403/.test(String(r.reason))));
  });

  test('key exchange: the post-quantum hybrid by default on both ends, X25519 for peers without it, narrowed by PF9_TLS_GROUPS', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const ca = certs.ca.cert;
    const client = certs.host;
    const byDefault = await tlsExchange(plane.ingress.port, { alpn: ['pf9-http'], client, ca, payload: 'default' });
    assert.deepEqual([byDefault.data, byDefault.error, byDefault.group], ['http|default', undefined, 'X25519MLKEM768']);
    const classical = await tlsExchange(plane.ingress.port, { alpn: ['pf9-http'], client, ca, payload: 'old peer', groups: 'X25519' });
    assert.deepEqual([classical.data, classical.error, classical.group], ['http|old peer', undefined, 'X25519']);

    // An ingress that takes only the hybrid: comms gets through by default, and not once limited to X25519.
    const hybridOnly = await startPlane(t, certs, ports(backends), { env: { PF9_TLS_GROUPS: 'X25519MLKEM768' } });
    const root = await hostRoot(certs);
    const host = await startHost(t, hybridOnly.ingress.port, root);
    assert.equal((await exchange(host.port('http'), 'hybrid')).data.toString(), 'http|hybrid');
    // comms resumes a hybrid session with X25519 alone; this ingress refuses that, so it resumes with the hybrid.
    assert.equal((await exchange(host.port('http'), 'resumed')).data.toString(), 'http|resumed');
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_tls_sessions_resumed_total', { service: 'http' }), 1);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'tls' }), 0);
    const narrowed = await startHost(t, hybridOnly.ingress.port, root, { PF9_TLS_GROUPS: 'X25519' });
    assert.equal((await exchange(narrowed.port('http'), 'classical')).data.length, 0);
    assert.equal(await metric(narrowed.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'tls' }), 1);
    assert.equal(backends.http.connections, 4);
  });

  test("cipher suites: the ingress's order decides, TLS_AES_128_GCM_SHA256 first; PF9_TLS_CIPHERS sets it on either end", async (t) => {
    const backends = await threeBackends(t);
    const ca = certs.ca.cert;
    const client = certs.host;
    const aes256First = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';
    const plane = await startPlane(t, certs, ports(backends));
    const byDefault = await tlsExchange(plane.ingress.port, { alpn: ['pf9-http'], client, ca, payload: 'default', ciphers: aes256First });
    assert.deepEqual([byDefault.data, byDefault.cipher], ['http|default', 'TLS_AES_128_GCM_SHA256']);

    // A plane whose policy is 256-bit keys: the default comms gets through with them; a host limited to AES-128 does not.
    const strict = await startPlane(t, certs, ports(backends), { env: { PF9_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384' } });
    const taken = await tlsExchange(strict.ingress.port, { alpn: ['pf9-http'], client, ca, payload: 'strict', ciphers: aes256First });
    assert.deepEqual([taken.data, taken.cipher], ['http|strict', 'TLS_AES_256_GCM_SHA384']);
    // It names TLS 1.3 suites only: TLS 1.2 keeps the default ciphers rather than going off.
    const tls12 = await tlsExchange(strict.ingress.port, { alpn: ['pf9-http'], client, ca, payload: 'tls 1.2', maxVersion: 'TLSv1.2' });
    assert.deepEqual([tls12.data, tls12.cipher], ['http|tls 1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
    const root = await hostRoot(certs);
    const host = await startHost(t, strict.ingress.port, root);
    assert.equal((await exchange(host.port('http'), 'by default')).data.toString(), 'http|by default');
    const narrowed = await startHost(t, strict.ingress.port, root, { PF9_TLS_CIPHERS: 'TLS_AES_128_GCM_SHA256' });
    assert.equal((await exchange(narrowed.port('http'), 'aes-128 only')).data.length, 0);
    assert.equal(await metric(narrowed.comms.adminUrl, 'hostplane_comms_upstream_failures_total', { service: 'http', cause: 'tls' }), 1);
    assert.ok(narrowed.logs.find((r) => /PF9_TLS_CIPHERS/.test(String(r.hint))), 'the log line says what to look at');
  });

  test('the ingress takes a renewed certificate without a restart, and keeps its own when new files do not work', async (t) => {
    const backends = await threeBackends(t);
    const dir = await tempDir('ingress-pki');
    const files = { cert: join(dir, 'ingress.crt'), key: join(dir, 'ingress.key') };
    await copyFile(certs.server.cert, files.cert);
    await copyFile(certs.server.key, files.key);
    const plane = await startPlane(t, certs, ports(backends), { server: files, env: { PF9_INGRESS_CERT_RECHECK_MS: '50' } });
    const serialOf = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber;
    const served = async (): Promise<string | undefined> =>
      (await tlsExchange(plane.ingress.port, { alpn: ['pf9-http'], client: certs.host, ca: certs.ca.cert, payload: 'x' })).serial;
    assert.equal(await served(), serialOf(certs.server.cert));
    assert.equal(plane.ingress.reloadCertificates(), false, 'nothing changed yet');

    await copyFile(certs.renewedServer.key, files.key);
    await copyFile(certs.renewedServer.cert, files.cert);
    await waitFor('the renewed certificate in use', async () => (await served()) === serialOf(certs.renewedServer.cert));
    const notAfter = new Date(new X509Certificate(readFileSync(certs.renewedServer.cert)).validTo).getTime() / 1000;
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_certificate_expiry_timestamp_seconds'), notAfter);
    assert.ok(plane.logs.find((r) => r.msg === 'certificate files changed: new connections use them'));
    // The new context keeps the ingress's TLS settings: its cipher order still decides.
    const reloaded = await tlsExchange(plane.ingress.port, { alpn: ['pf9-http'], client: certs.host, ca: certs.ca.cert, payload: 'x', ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256' });
    assert.equal(reloaded.cipher, 'TLS_AES_128_GCM_SHA256');

    // A certificate without its key: refused, and the renewed one stays in use.
    const warnings = (): number => plane.logs.records.filter((r) => r.msg === 'certificate files changed but cannot be used: the loaded ones stay in use').length;
    const before = warnings();
    await copyFile(certs.server.cert, files.cert);
    await waitFor('a warning about the unusable files', () => warnings() > before);
    assert.equal(await served(), serialOf(certs.renewedServer.cert));
  });

  test('the second connection of a service resumes the TLS session', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
    assert.equal((await exchange(host.port('http'), 'one')).data.toString(), 'http|one');
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_tls_sessions_resumed_total', { service: 'http' }), 0);
    assert.equal((await exchange(host.port('http'), 'two')).data.toString(), 'http|two');
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_tls_sessions_resumed_total', { service: 'http' }), 1);
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_tls_sessions_resumed_total', { route: 'pf9-http' }), 1);
    const resumed = plane.logs.records.filter((r) => r.msg === 'connection accepted' && r.route === 'pf9-http');
    assert.deepEqual(
      resumed.map((r) => [r.resumed, r.hostId]),
      [
        [false, certs.hostId],
        [true, certs.hostId],
      ],
      'a resumed session still names its host',
    );
  });

  test('/healthz and /metrics on both ends', async (t) => {
    const backends = await threeBackends(t);
    const plane = await startPlane(t, certs, ports(backends));
    const host = await startHost(t, plane.ingress.port, await hostRoot(certs));
    await waitFor('the first probe of the plane', () => host.comms.planeState() === 'reachable');
    await exchange(host.port('http'), 'count me');

    const comms = await health<CommsHealth>(host.comms.adminUrl);
    assert.equal(comms.status, 200);
    assert.deepEqual(comms.body, { status: 'ok', plane: 'reachable', listeners: host.comms.listeners, connectionsOpen: 0 });
    const ingress = await health<IngressHealth>(plane.ingress.adminUrl);
    assert.equal(ingress.status, 200);
    assert.equal(ingress.body.status, 'ok');
    assert.equal(ingress.body.port, plane.ingress.port);
    assert.equal(ingress.body.routes['pf9-http'], `127.0.0.1:${backends.http.port}`);

    const commsMetrics = await (await fetch(`${host.comms.adminUrl}/metrics`)).text();
    for (const name of [
      'hostplane_comms_connections_open',
      'hostplane_comms_connections_total',
      'hostplane_comms_bytes_total',
      'hostplane_comms_tls_handshake_seconds_bucket',
      'hostplane_comms_upstream_failures_total',
      'hostplane_comms_tls_sessions_resumed_total',
      'hostplane_comms_plane_reachable',
      'hostplane_comms_process_resident_memory_bytes',
    ]) {
      assert.match(commsMetrics, new RegExp(`^# (HELP|TYPE) ${name.replace(/_bucket$/, '')} `, 'm'), name);
    }
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_bytes_total', { service: 'http', direction: 'upstream' }), 'count me'.length);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_bytes_total', { service: 'http', direction: 'downstream' }), 'http|count me'.length);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_tls_handshake_seconds_count', { service: 'http' }), 1);
    assert.equal(await metric(host.comms.adminUrl, 'hostplane_comms_plane_reachable'), 1);
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_connections_total', { route: 'pf9-http' }), 1);
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_bytes_total', { route: 'pf9-http', direction: 'downstream' }), 'http|count me'.length);
    assert.equal(await metric(plane.ingress.adminUrl, 'hostplane_ingress_tls_handshake_seconds_count', { route: 'pf9-http' }), 1);
    assert.equal((await fetch(`${plane.ingress.adminUrl}/nope`)).status, 404);
  });

  test('an AMQP client talks to the real broker through comms and the ingress, as the shared broker user where the ingress is told to let it (insecure)', async (t) => {
    const broker = new URL(brokerUrl());
    const backends = await threeBackends(t);
    // The amqp route goes to the broker itself (its host may not be loopback under Testcontainers).
    const logs = new LogCapture();
    const ingress = await startIngress(
      loadIngressConfig({
        PF9_INGRESS_LISTEN: '127.0.0.1:0',
        PF9_INGRESS_ADMIN: '127.0.0.1:0',
        PF9_INGRESS_ROUTES: `pf9-amqp=${broker.hostname}:${broker.port || '5672'},pf9-http=127.0.0.1:${backends.http.port},pf9-join=127.0.0.1:${backends.join.port}`,
        PF9_INGRESS_CERT_FILE: certs.server.cert,
        PF9_INGRESS_KEY_FILE: certs.server.key,
        PF9_INGRESS_CA_FILE: certs.ca.cert,
        // No role store here to give the host a broker user of its own.
        PF9_INSECURE_SHARED_BROKER_USER: decodeURIComponent(broker.username || 'guest'),
      }),
      { logger: logs.logger('ingress') },
    );
    t.after(() => ingress.close());
    const host = await startHost(t, ingress.port, await hostRoot(certs));

    const local = new URL(broker.toString());
    local.hostname = '127.0.0.1';
    local.port = String(host.port('amqp'));
    const connection = await amqp.connect(local.toString());
    t.after(() => connection.close().catch(() => undefined));
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const body = `through the tunnel ${randomBytes(8).toString('hex')}`;
    const received = new Promise<string>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (msg) {
          channel.ack(msg);
          resolve(msg.content.toString());
        }
      });
    });
    channel.sendToQueue(queue, Buffer.from(body));
    assert.equal(await received, body);
    await connection.close();
    assert.equal(logs.find((r) => r.msg === 'connection accepted' && r.route === 'pf9-amqp')?.hostId, certs.hostId);
    assert.ok(logs.find((r) => /AMQP login as the shared broker user/.test(r.msg) && r.hostId === certs.hostId), 'the ingress says the host logged in on the shared identity');
  });
});
