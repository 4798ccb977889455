import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { PkiFiles, type HostJoinResult } from '#contracts';
import { createHostKeyAndCsr, initPlanePki } from '#pki';
import { startComms, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import { loadIngressConfig } from '../../services/ingress/ingress.config';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { amqpLoginBytes } from '../support/amqp-login-frames';
import { tempDir } from '../support/fixtures';
import { freePort } from '../support/processes';
import { brokerUrl } from '../support/test-env';

/** A registered host: its certificate on disk under `root`, its own broker credentials, and a comms in front of the ingress. */
interface TestHost {
  hostId: string;
  root: string;
  broker: { username: string; password: string };
  comms: RunningComms;
}

/**
 * A host acts only as itself: whatever its tunnel carries, it logs in to the broker as its
 * own broker user and nobody else; once decommissioned, it has no tunnel and no user.
 */
describe('a host acts only as itself', () => {
  const run = randomBytes(3).toString('hex');
  let dataDir: string;
  let rs: RunningRolestore;
  let ingress: RunningIngress;
  const hosts: TestHost[] = [];
  const open: ChannelModel[] = [];

  before(async () => {
    dataDir = await tempDir('identity-plane');
    await initPlanePki(dataDir, { ingressNames: ['localhost'], ingressIps: ['127.0.0.1'] });
    rs = await startRolestore(
      {
        AMQP_URL: brokerUrl(),
        PF9_DATA_DIR: dataDir,
        PF9_API_PORT: '0',
        PF9_HOST_BROKER_USERS: 'on',
        PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL,
        PF9_LOG_LEVEL: 'error',
      },
      { waitForBrokerMs: 15_000 },
    );
    const broker = new URL(brokerUrl());
    ingress = await startIngress(
      loadIngressConfig({
        PF9_DATA_DIR: dataDir,
        PF9_INGRESS_LISTEN: `127.0.0.1:${await freePort()}`,
        PF9_INGRESS_ADMIN: '127.0.0.1:0',
        PF9_INGRESS_ROUTES: `pf9-amqp=${broker.hostname}:${broker.port || 5672},pf9-http=${new URL(rs.hostApiUrl).host},pf9-join=${new URL(rs.joinUrl).host}`,
        PF9_LOG_LEVEL: 'error',
      }),
    );
  });

  after(async () => {
    for (const connection of open) await connection.close().catch(() => undefined);
    for (const host of hosts) await host.comms.close();
    await ingress?.close();
    await rs?.close();
  });

  /** Registers a host through the join listener, as its agent would, and starts its comms. */
  async function registerHost(name: string): Promise<TestHost> {
    const hostId = `id-${run}-${name}`;
    const token = ((await (await fetch(`${rs.url}/v1/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
    const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
    const answer = await fetch(`${rs.joinUrl}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, hostId, hostname: `${name}.example`, csr: csrPem }) });
    assert.equal(answer.status, 200, await answer.clone().text());
    const joined = (await answer.json()) as HostJoinResult;
    assert.ok(joined.broker, 'the host has a broker user of its own');
    const root = await tempDir(`identity-${name}`);
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    await writeFile(join(root, PkiFiles.host.caCert), joined.caCertificate);
    await writeFile(join(root, PkiFiles.host.key), keyPem, { mode: 0o600 });
    await writeFile(join(root, PkiFiles.host.cert), joined.certificate);
    const comms = await startComms(
      loadCommsConfig({
        PF9_ROOT: root,
        PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0,http=127.0.0.1:0',
        PF9_PLANE_HOST: '127.0.0.1',
        PF9_PLANE_PORT: String(ingressPort()),
        PF9_PLANE_SERVERNAME: 'localhost',
        PF9_COMMS_ADMIN: '127.0.0.1:0',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    const host = { hostId, root, broker: joined.broker, comms };
    hosts.push(host);
    return host;
  }

  function ingressPort(): number {
    return ingress.port;
  }

  /** Logs in to the broker through the host's tunnel (its comms) as `user`. */
  async function loginThrough(host: TestHost, user: { username: string; password: string }): Promise<ChannelModel> {
    const url = new URL(brokerUrl());
    url.hostname = '127.0.0.1';
    url.port = String(host.comms.listeners.amqp);
    url.username = encodeURIComponent(user.username);
    url.password = encodeURIComponent(user.password);
    const connection = await amqp.connect(url.toString());
    connection.on('error', () => undefined);
    open.push(connection);
    return connection;
  }

  /** Sends raw bytes through the host's tunnel and collects what comes back until the tunnel closes. */
  function rawThrough(host: TestHost, bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const socket = netConnect({ host: '127.0.0.1', port: host.comms.listeners.amqp ?? 0 });
      socket.on('connect', () => socket.write(bytes));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
  }

  describe("no host's tunnel logs in to the broker as anyone but that host's own broker user", () => {
    let a: TestHost;
    let b: TestHost;
    const plane = (): { username: string; password: string } => {
      const url = new URL(brokerUrl());
      return { username: decodeURIComponent(url.username || 'guest'), password: decodeURIComponent(url.password || 'guest') };
    };

    before(async () => {
      a = await registerHost('a');
      b = await registerHost('b');
    });

    test("as its own broker user it logs in and uses its queue", async () => {
      const connection = await loginThrough(a, a.broker);
      const channel = await connection.createChannel();
      await channel.checkExchange('pf9.events');
      await channel.close();
    });

    test("not as guest, though the broker lets guest in from loopback, where every tunnel comes from", async () => {
      await assert.rejects(loginThrough(a, { username: 'guest', password: 'guest' }), /ACCESS[-_]REFUSED/);
    });

    test("not as the plane's broker user, with the plane's password", async () => {
      await assert.rejects(loginThrough(a, plane()), /ACCESS[-_]REFUSED/);
    });

    test("not as another host's user, even with that host's password", async () => {
      await assert.rejects(loginThrough(a, b.broker), /ACCESS[-_]REFUSED/);
      // The other host itself still logs in as itself.
      await loginThrough(b, b.broker);
    });

    test('not with another SASL mechanism (AMQPLAIN names its user in a table), nor with a PLAIN response that hides a second name', async () => {
      for (const bytes of [
        amqpLoginBytes({ mechanism: 'AMQPLAIN', response: Buffer.from('\x05LOGINS\x00\x00\x00\x05guest\x08PASSWORDS\x00\x00\x00\x05guest', 'latin1') }),
        amqpLoginBytes({ response: Buffer.from(`${a.broker.username}\0guest\0guest`) }),
        amqpLoginBytes({ response: Buffer.from(`\0guest\0guest\0${a.broker.username}`) }),
      ]) {
        const answer = await rawThrough(a, bytes);
        // The broker's connection.start may come first; a refusal (connection.close 403) always last, and nothing else.
        assert.match(answer.toString('latin1'), /ACCESS_REFUSED/, 'the client is told why');
        assert.doesNotMatch(answer.toString('latin1'), /\x00\x0a\x00\x1e/, 'never got as far as connection.tune');
      }
    });

    test('what is not AMQP does not reach the broker', async () => {
      const answer = await rawThrough(a, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      assert.equal(answer.length, 0);
    });

    test('every refusal is counted and logged by the ingress', async () => {
      const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
      const refused = /hostplane_ingress_refusals_total\{route="pf9-amqp",cause="amqp-login"\} (\d+)/.exec(metrics);
      assert.ok(refused && Number(refused[1]) >= 7, refused?.[0] ?? 'no amqp-login refusals counted');
    });
  });
});
