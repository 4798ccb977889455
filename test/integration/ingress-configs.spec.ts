import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { TunnelServices } from '#contracts';
import { tempDir } from '../support/fixtures';
import { makeOpensslPki, type OpensslPki } from '../support/openssl-pki';
import { freePort } from '../support/processes';
import type { ServiceProcess } from '../support/service-process';
import {
  checkHaproxyConfig,
  checkNginxConfig,
  requireInstalled,
  requireNginxStream,
  startHaproxyIngress,
  startNginxIngress,
  type IngressSetup,
} from '../support/stock-ingress';

/**
 * The ingress's job done by stock HAProxy and nginx with the configurations we ship:
 * each is checked by the program itself, then run in front of three echo servers (one
 * per service) and probed with TLS clients: routing by ALPN, a client certificate
 * required for pf9-amqp and pf9-http, none for pf9-join, a foreign one refused.
 */

/** An echo server that answers each line as "<its name>:<line>", and counts connections. */
class NamedEcho {
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(readonly name: string) {}

  async start(): Promise<number> {
    this.server = createServer((socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          socket.write(`${this.name}:${pending.slice(0, nl)}\n`);
          pending = pending.slice(nl + 1);
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

type Outcome = { kind: 'reply'; alpn: string | false | null; line: string } | { kind: 'refused'; reason: string };

interface Probe {
  alpn?: string[];
  cert?: 'host' | 'foreign' | 'none';
}

/** One TLS connection to the ingress: sends a line, answers the reply or how it was refused. */
function probe(port: number, pki: OpensslPki, options: Probe): Promise<Outcome> {
  const cert = options.cert ?? 'none';
  const identity =
    cert === 'host'
      ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }
      : cert === 'foreign'
        ? { cert: readFileSync(pki.foreignClientCert), key: readFileSync(pki.foreignClientKey) }
        : {};
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: pki.planeName,
      ca: readFileSync(pki.caCert),
      ALPNProtocols: options.alpn,
      ...identity,
    });
    const timer = setTimeout(() => done({ kind: 'refused', reason: 'no reply within 5 s' }), 5_000);
    let received = '';
    socket.on('secureConnect', () => socket.write('ping\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const nl = received.indexOf('\n');
      if (nl >= 0) done({ kind: 'reply', alpn: socket.alpnProtocol, line: received.slice(0, nl) });
    });
    socket.on('error', (err) => done({ kind: 'refused', reason: err.message }));
    socket.on('close', () => done({ kind: 'refused', reason: 'closed without a reply' }));
  });
}

/** The same assertions for both proxies. */
function routingSuite(name: string, start: (setup: IngressSetup) => Promise<ServiceProcess>, check: (setup: IngressSetup) => { ok: boolean; output: string }, requireTools: () => void): void {
  describe(`${name} as the ingress`, () => {
    let dir: string;
    let pki: OpensslPki;
    let setup: IngressSetup;
    let proxy: ServiceProcess | undefined;
    const echoes = { amqp: new NamedEcho('amqp'), http: new NamedEcho('http'), join: new NamedEcho('join') };

    before(async () => {
      requireTools();
      dir = await tempDir(`ingress-${name}`);
      pki = makeOpensslPki(dir);
      setup = {
        listen: { host: '127.0.0.1', port: await freePort() },
        pki,
        routes: {
          amqp: { host: '127.0.0.1', port: await echoes.amqp.start() },
          http: { host: '127.0.0.1', port: await echoes.http.start() },
          join: { host: '127.0.0.1', port: await echoes.join.start() },
        },
        workDir: dir,
      };
      proxy = await start(setup);
    });

    after(async () => {
      await proxy?.stop();
      await Promise.all(Object.values(echoes).map((echo) => echo.stop()));
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test(`${name} accepts the configuration`, () => {
      const result = check(setup);
      assert.ok(result.ok, result.output);
      assert.doesNotMatch(result.output, /\[WARNING\]|\[warn\]|\[emerg\]/, 'the check printed warnings');
    });

    test('pf9-amqp with a host certificate reaches the broker', async () => {
      assert.deepEqual(await probe(setup.listen.port, pki, { alpn: [TunnelServices.amqp], cert: 'host' }), { kind: 'reply', alpn: 'pf9-amqp', line: 'amqp:ping' });
    });

    test('pf9-http with a host certificate reaches the role store', async () => {
      assert.deepEqual(await probe(setup.listen.port, pki, { alpn: [TunnelServices.http], cert: 'host' }), { kind: 'reply', alpn: 'pf9-http', line: 'http:ping' });
    });

    test('pf9-amqp and pf9-http without a certificate are refused before any backend', async () => {
      const before = echoes.amqp.connections + echoes.http.connections;
      for (const alpn of [TunnelServices.amqp, TunnelServices.http]) {
        const outcome = await probe(setup.listen.port, pki, { alpn: [alpn], cert: 'none' });
        assert.equal(outcome.kind, 'refused', `${alpn} without a certificate: ${JSON.stringify(outcome)}`);
      }
      assert.equal(echoes.amqp.connections + echoes.http.connections, before, 'a backend saw a connection');
    });

    test('pf9-join without a certificate reaches the registration endpoint', async () => {
      assert.deepEqual(await probe(setup.listen.port, pki, { alpn: [TunnelServices.join], cert: 'none' }), { kind: 'reply', alpn: 'pf9-join', line: 'join:ping' });
    });

    test('pf9-join with a host certificate reaches it too', async () => {
      assert.deepEqual(await probe(setup.listen.port, pki, { alpn: [TunnelServices.join], cert: 'host' }), { kind: 'reply', alpn: 'pf9-join', line: 'join:ping' });
    });

    test('a certificate from another CA is refused, even on pf9-join', async () => {
      const before = echoes.amqp.connections + echoes.join.connections;
      for (const alpn of [TunnelServices.amqp, TunnelServices.join]) {
        const outcome = await probe(setup.listen.port, pki, { alpn: [alpn], cert: 'foreign' });
        assert.equal(outcome.kind, 'refused', `${alpn} with a foreign certificate: ${JSON.stringify(outcome)}`);
      }
      assert.equal(echoes.amqp.connections + echoes.join.connections, before, 'a backend saw a connection');
    });

    test('no ALPN, or none of ours, is refused even with a host certificate', async () => {
      const before = echoes.amqp.connections + echoes.http.connections + echoes.join.connections;
      for (const alpn of [undefined, ['h2', 'http/1.1'], [TunnelServices.sidekick]]) {
        const outcome = await probe(setup.listen.port, pki, { alpn, cert: 'host' });
        assert.equal(outcome.kind, 'refused', `ALPN ${JSON.stringify(alpn)}: ${JSON.stringify(outcome)}`);
      }
      assert.equal(echoes.amqp.connections + echoes.http.connections + echoes.join.connections, before, 'a backend saw a connection');
    });
  });
}

routingSuite('HAProxy', startHaproxyIngress, (setup) => checkHaproxyConfig(setup), () => void requireInstalled('haproxy', 'haproxy'));
routingSuite('nginx', startNginxIngress, checkNginxConfig, requireNginxStream);
