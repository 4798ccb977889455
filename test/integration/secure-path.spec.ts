import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import * as amqp from 'amqplib';
import { join } from 'node:path';
import { CommsSockets, commsSocketListen, PkiFiles } from '#contracts';
import { keyMatchesCert } from '#pki';
import type { RunningRolestore } from '../../services/rolestore/rolestore.app';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import type { IngressConfig } from '../../services/ingress/ingress.config';
import { startComms, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { socketFetch } from '../../services/hostagent/socket-fetch';
import { buildRole, fileRole, tempDir } from '../support/fixtures';
import { startHostPlane } from '../support/host-plane';
import { freePort } from '../support/processes';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { requireInstalled, startHaproxyIngress } from '../support/stock-ingress';
import type { OpensslPki } from '../support/openssl-pki';
import { planeFetch } from '../support/operator-auth';

interface RoleView {
  name: string;
  version: string;
  state: string;
  message: string | null;
}

/**
 * The whole secure path, in one process: host agent → pf9-comms → TLS → ingress →
 * broker and role store, with the host's own certificate and broker user.
 */
describe('a host behind pf9-comms and the ingress', () => {
  let dataDir: string;
  let rs: RunningRolestore;
  let ingressConfig: IngressConfig;
  let ingress: RunningIngress | null = null;
  const hosts: Array<{ agent: RunningHostagent | null; comms: RunningComms }> = [];

  before(async () => {
    const raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    await raw.close();
    ({ dataDir, rs, ingressConfig } = await startHostPlane('secure-plane', `127.0.0.1:${await freePort()}`));
  });

  after(async () => {
    for (const h of hosts) {
      await h.agent?.close();
      await h.comms.close();
    }
    await ingress?.close();
    await rs?.close();
  });

  /** A host (comms + agent) with a join token, as an operator would set one up. */
  async function startHost(planePort = ingressConfig.listen.port, agentEnv: Record<string, string> = {}): Promise<{ agent: RunningHostagent; comms: RunningComms; root: string }> {
    const root = await tempDir('secure-host');
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    await copyFile(join(dataDir, PkiFiles.plane.caCert), join(root, PkiFiles.host.caCert));
    const sockets = join(root, CommsSockets.dir);
    const comms = await startComms(
      loadCommsConfig({
        PF9_ROOT: root,
        PF9_COMMS_LISTEN: commsSocketListen(sockets),
        PF9_PLANE_HOST: '127.0.0.1',
        PF9_PLANE_PORT: String(planePort),
        PF9_PLANE_SERVERNAME: 'localhost',
        PF9_COMMS_ADMIN: '127.0.0.1:0',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    const token = ((await (await planeFetch(rs, `${rs.url}/v1/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { token: string }).token;
    const entry: { agent: RunningHostagent | null; comms: RunningComms } = { agent: null, comms };
    hosts.push(entry);
    const agent = await startHostagent({
      // Through comms's sockets: the broker URL gives the vhost (and, before registration, the credentials).
      AMQP_URL: brokerUrl(),
      PF9_COMMS_SOCKET_DIR: sockets,
      PF9_JOIN_TOKEN: token,
      PF9_ROOT: root,
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '2',
      PF9_AGENT_METRICS_PORT: '0',
      PF9_LOG_LEVEL: 'error',
      ...agentEnv,
    });
    entry.agent = agent;
    return { agent, comms, root };
  }

  /** HTTP through comms's package socket, as the agent downloads. */
  const viaComms = (comms: RunningComms): typeof fetch => socketFetch(async () => comms.sockets.http ?? assert.fail('comms has no http socket'));

  const role = async (hostId: string, name: string) =>
    ((await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { roles: RoleView[] }).roles.find((r) => r.name === name);

  test('the plane unreachable when the host starts: it registers and shows up once the ingress is there', async () => {
    const before = hosts.length;
    const starting = startHost();
    // Nothing listens on the ingress port yet: comms finds the plane unreachable, registration waits and tries again.
    await waitFor('comms to find the plane unreachable', () => hosts.length > before && hosts[before]!.comms.planeState() === 'unreachable', { timeoutMs: 15_000 });
    ingress = await startIngress(ingressConfig);
    const { agent } = await starting;
    await waitFor('the host to appear', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${agent.hostId}`)).ok, { timeoutMs: 30_000 });
    const adminUrl = ingress.adminUrl;
    await waitFor('the ingress to count the host\'s broker connection', async () => /connections_total\{route="pf9-amqp"\} [1-9]/.test(await (await fetch(`${adminUrl}/metrics`)).text()));
  });

  test('the ingress restarted during an apply: the agent reconnects by itself and no status report is lost', async () => {
    const { agent, root } = await startHost();
    const id = agent.hostId;
    await waitFor('the host to appear', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${id}`)).ok, { timeoutMs: 30_000 });
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${id}/authorize`, { method: 'POST' })).status, 200);
    const pkg = await buildRole(fileRole('slow', '1.0.0', { configure: `sleep 3; mkdir -p "$PF9_ROOT/etc/slow"; cat > "$PF9_ROOT/etc/slow/config.json"` }));
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg });
    assert.ok(upload.status === 201 || upload.status === 409);
    await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/slow`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"config":{"a":1}}' });
    await waitFor('configuring', async () => (await role(id, 'slow'))?.state === 'configuring', { timeoutMs: 20_000 });
    let drops = 0;
    agent.runtime.connection.on('disconnected', () => drops++);
    await ingress!.close();
    await waitFor('the agent to lose its broker connection', () => drops > 0);
    ingress = await startIngress(ingressConfig);
    const applied = await waitFor('applied after the ingress came back', async () => {
      const r = await role(id, 'slow');
      return r?.state === 'applied' ? r : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(applied.message, 'installed');
    await waitFor('the agent connected again', async () => (await fetch(`${agent.url}/healthz`)).status === 200, { timeoutMs: 30_000 });
    const outbox = join(root, 'var/lib/pf9/hostagent/outbox');
    await waitFor('the outbox empty', async () => (await readdir(outbox)).filter((f) => /^\d+/.test(f)).length === 0);
  });

  test('a host renews its certificate through comms and the ingress, and keeps reaching the plane with the new one', async () => {
    // Due at once: a 365-day certificate has fewer than 400 days left.
    const { agent, comms, root } = await startHost(ingressConfig.listen.port, { PF9_CERT_RENEW_BEFORE_DAYS: '400' });
    const metrics = async (): Promise<string> => (await fetch(`${agent.url}/metrics`)).text();
    await waitFor('the certificate renewed', async () => /hostplane_hostagent_certificate_renewals_total\{outcome="renewed"\} 1/.test(await metrics()), { timeoutMs: 30_000 });
    const expiry = /^hostplane_hostagent_certificate_expiry_timestamp_seconds (\S+)$/m.exec(await metrics());
    assert.ok(expiry && Number(expiry[1]) * 1000 > Date.now() + 300 * 24 * 3600 * 1000, expiry?.[0]);
    const files = { cert: join(root, PkiFiles.host.cert), key: join(root, PkiFiles.host.key) };
    assert.ok(keyMatchesCert(await readFile(files.key, 'utf8'), await readFile(files.cert, 'utf8')));
    // comms presents the new pair: a new connection through it reaches the plane.
    const pkg = await buildRole(fileRole('after-renewal', '1.0.0'));
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg });
    assert.ok(upload.status === 201 || upload.status === 409);
    const packageUrl = 'http://localhost/v1/roles/after-renewal/1.0.0/package';
    await waitFor('the plane reached through comms', async () => (await viaComms(comms)(packageUrl).catch(() => null))?.status === 200, { timeoutMs: 10_000 });
    assert.equal(/outcome="failed"\} [1-9]/.test(await metrics()), false);
  });

  test("through comms a host reaches role packages, and nothing of the operators' REST API", async () => {
    const { agent, comms } = await startHost();
    const id = agent.hostId;
    await waitFor('the host to appear', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${id}`)).ok, { timeoutMs: 30_000 });
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${id}/authorize`, { method: 'POST' })).status, 200);
    const pkg = await buildRole(fileRole('packages-only', '1.0.0'));
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg });
    assert.ok(upload.status === 201 || upload.status === 409);
    const sha256 = createHash('sha256').update(pkg).digest('hex');

    const through = viaComms(comms);
    const got = await through('http://localhost/v1/roles/packages-only/1.0.0/package');
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('x-pf9-sha256'), sha256);
    assert.equal(createHash('sha256').update(Buffer.from(await got.arrayBuffer())).digest('hex'), sha256);
    assert.equal((await through('http://localhost/v1/roles/packages-only/9.9.9/package')).status, 404);
    // What would let a host (or anyone on it) command the fleet: not there.
    const refused = [
      await through('http://localhost/v1/hosts'),
      await through('http://localhost/v1/join-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await through(`http://localhost/v1/hosts/${id}/roles/packages-only`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await through('http://localhost/v1/roles', { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg }),
    ];
    assert.deepEqual(refused.map((r) => r.status), [404, 404, 404, 404]);
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${id}`).then((r) => r.json() as Promise<{ roles: unknown[] }>)).roles.length, 0, 'nothing was assigned');
  });

  test('the certificate a renewal replaced is refused by the ingress from then on (the plane\'s CRL)', async () => {
    const { agent, root } = await startHost();
    const files = { cert: join(root, PkiFiles.host.cert), key: join(root, PkiFiles.host.key) };
    await waitFor('registered', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${agent.hostId}`)).ok, { timeoutMs: 30_000 });
    const old = { cert: await readFile(files.cert), key: await readFile(files.key) };
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole('crl-check', '1.0.0')) });
    assert.ok(upload.status === 201 || upload.status === 409);
    let oldSession: Buffer | undefined;
    const through = (pair: { cert: Buffer; key: Buffer }, session?: Buffer): Promise<{ status: string; resumed: boolean }> =>
      new Promise((resolve) => {
        let answer = '';
        let resumed = false;
        const socket = tlsConnect({ host: '127.0.0.1', port: ingressConfig.listen.port, servername: 'localhost', ca: readFileSync(join(dataDir, PkiFiles.plane.caCert)), ...pair, session, ALPNProtocols: ['pf9-http'] });
        socket.on('session', (ticket: Buffer) => (oldSession ??= pair === old ? ticket : undefined));
        socket.on('secureConnect', () => {
          resumed = socket.isSessionReused();
          socket.end('GET /v1/roles/crl-check/1.0.0/package HTTP/1.1\r\nhost: plane\r\nconnection: close\r\n\r\n');
        });
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve({ status: answer.split('\r\n')[0] ?? '', resumed }));
      });
    assert.equal((await through(old)).status, 'HTTP/1.1 200 OK');
    assert.ok(oldSession !== undefined, 'a session to resume later');
    assert.deepEqual(await through(old, oldSession), { status: 'HTTP/1.1 200 OK', resumed: true });

    agent.runtime.config.certRenewBeforeDays = 400;
    await agent.runtime.renewNow();
    const renewed = { cert: await readFile(files.cert), key: await readFile(files.key) };
    assert.notDeepEqual(renewed.cert, old.cert);
    // The periodic look may have come first; either way the CRL is in use after this.
    ingress!.reloadCertificates();
    // Counted before and after: the host's own comms may meet the CRL too, before it reloads the renewed pair.
    const revokedRefusals = async (): Promise<number> => {
      const metrics = await (await fetch(`${ingress!.adminUrl}/metrics`)).text();
      return Number(/^hostplane_ingress_refusals_total\{route="pf9-http",cause="revoked"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    };
    const before = await revokedRefusals();
    assert.equal((await through(old)).status, '', 'the replaced certificate is refused');
    assert.equal((await through(old, oldSession)).status, '', 'and its session is not resumed past the CRL');
    assert.ok((await revokedRefusals()) >= before + 2, 'both refusals counted as revoked');
    assert.equal((await through(renewed)).status, 'HTTP/1.1 200 OK');
  });

  test('Debian\'s HAProxy in place of the ingress (docker/haproxy/haproxy.cfg): a host registers and a role is applied through it', async () => {
    requireInstalled('haproxy', 'haproxy');
    const broker = new URL(brokerUrl());
    const workDir = await tempDir('haproxy');
    const pki = {
      dir: join(dataDir, 'pki'),
      caCert: join(dataDir, PkiFiles.plane.caCert),
      serverCert: join(dataDir, PkiFiles.plane.ingressCert),
      serverKey: join(dataDir, PkiFiles.plane.ingressKey),
    } as OpensslPki;
    const listen = { host: '127.0.0.1', port: await freePort() };
    const haproxy = await startHaproxyIngress({
      listen,
      pki,
      routes: {
        amqp: { host: broker.hostname, port: Number(broker.port || 5672) },
        http: { host: '127.0.0.1', port: Number(new URL(rs.hostApiUrl).port) },
        join: { host: '127.0.0.1', port: Number(new URL(rs.joinUrl).port) },
      },
      workDir,
    }, [], join(workDir, 'haproxy.log'));
    try {
      const { agent } = await startHost(listen.port);
      const id = agent.hostId;
      await waitFor('the host to appear through HAProxy', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${id}`)).ok, { timeoutMs: 30_000 });
      await planeFetch(rs, `${rs.url}/v1/hosts/${id}/authorize`, { method: 'POST' });
      const pkg = await buildRole(fileRole('via-haproxy', '1.0.0'));
      assert.equal((await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg })).status, 201);
      await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/via-haproxy`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"config":{"b":2}}' });
      await waitFor('applied through HAProxy', async () => (await role(id, 'via-haproxy'))?.state === 'applied', { timeoutMs: 30_000 });
    } finally {
      await haproxy.stop();
    }
  });

  test('deauthorizing a host removes its roles, then its broker access: connections closed, no way back in', async () => {
    const { agent, root } = await startHost();
    const id = agent.hostId;
    await waitFor('the host to appear', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${id}`)).ok, { timeoutMs: 30_000 });
    await planeFetch(rs, `${rs.url}/v1/hosts/${id}/authorize`, { method: 'POST' });
    const pkg = await buildRole(fileRole('short-lived', '1.0.0'));
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: pkg });
    assert.ok(upload.status === 201 || upload.status === 409);
    await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/short-lived`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    await waitFor('applied', async () => (await role(id, 'short-lived'))?.state === 'applied', { timeoutMs: 30_000 });
    let drops = 0;
    agent.runtime.connection.on('disconnected', () => drops++);
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${id}/deauthorize`, { method: 'POST' })).status, 200);
    await waitFor('the role removed', async () => (await role(id, 'short-lived')) === undefined, { timeoutMs: 30_000 });
    await assert.rejects(readdir(join(root, 'etc/short-lived')), /ENOENT/);
    await waitFor('the host cut off from the broker', () => drops > 0, { timeoutMs: 15_000 });
    // Its own broker user can no longer use its queue.
    const creds = JSON.parse(await readFile(join(root, PkiFiles.host.broker), 'utf8')) as { username: string; password: string };
    const direct = new URL(brokerUrl());
    direct.username = encodeURIComponent(creds.username);
    direct.password = encodeURIComponent(creds.password);
    const refused = await waitFor('the broker to refuse the host\'s user', async () => {
      try {
        const connection = await amqp.connect(direct.toString());
        connection.on('error', () => undefined);
        try {
          const channel = await connection.createChannel();
          channel.on('error', () => undefined);
          await channel.assertQueue(`pf9.host.${id}`, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } });
          return undefined;
        } finally {
          await connection.close().catch(() => undefined);
        }
      } catch (err) {
        return String(err);
      }
    }, { timeoutMs: 15_000 });
    assert.match(refused, /ACCESS_REFUSED|access to vhost|not_allowed|403/i);
  });
});
