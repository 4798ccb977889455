import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { tempDir } from '../support/fixtures';
import { cli, DIST, freePort, Proc, REPO_ROOT } from '../support/processes';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

const VIP = { vip: '10.0.0.100/24', interface: 'eth0', routerId: 51, priority: 100 };

describe('npm start: the all-in-one, driven with the hostplane CLI', () => {
  let proc: Proc;
  let api = '';
  let hostId = '';
  let cwd = '';
  let ingressAdmin = '';

  before(async () => {
    const raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    await raw.close();
    cwd = await tempDir('allinone');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AMQP_URL: brokerUrl(),
      PF9_API_PORT: String(await freePort()),
      PF9_AGENT_METRICS_PORT: String(await freePort()),
      PF9_JOIN_PORT: String(await freePort()),
      PF9_HOST_API_PORT: String(await freePort()),
      PF9_INGRESS_PORT: String(await freePort()),
      PF9_INGRESS_ADMIN_PORT: String(await freePort()),
      PF9_COMMS_ADMIN_PORT: String(await freePort()),
      PF9_NODELET_ADMIN_PORT: String(await freePort()),
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '2',
    };
    delete env.DATABASE_URL; // the all-in-one's default: SQLite under .data/plane
    ingressAdmin = `http://127.0.0.1:${env.PF9_INGRESS_ADMIN_PORT}`;
    proc = new Proc(join(DIST, 'services/allinone/main.js'), env, cwd);
    const ready = await proc.line(/^hostplane ready: api=(\S+) host=(\S+)$/m, 60_000);
    api = ready[1]!;
    hostId = ready[2]!;
  });

  after(async () => {
    // Stop it the way a user does, so that nothing it started outlives the test.
    proc?.kill('SIGINT');
    await proc?.exit(20_000).catch(() => proc.kill('SIGKILL'));
  });

  const show = async () =>
    JSON.parse((await cli({ api, cwd }, '--json', 'hosts', 'show', hostId)).stdout) as {
      state: string;
      info: { hostname: string; comms?: { state: string } };
      roles: Array<{ name: string; state: string; message: string | null }>;
    };

  test('prints the ready line once the host sent its first heartbeat; the host is there, unauthorized, with its inventory', async () => {
    assert.match(api, /^http:\/\/127\.0\.0\.1:\d+$/);
    const list = await cli({ api, cwd }, 'hosts', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`${hostId}\\s+\\S+\\s+unauthorized\\s+yes`));
    const host = await show();
    assert.equal(host.info.hostname, hostname());
    assert.equal(proc.stdout.trim().split('\n').length, 1, 'one line on standard output');
  });

  test('the plane wrote its first admin token to .data/plane/admin.token (0600); the logs name the file, never the token; the CLI without it gets 401', async () => {
    const file = join(cwd, '.data/plane/admin.token');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const token = (await readFile(file, 'utf8')).trim();
    assert.match(token, /^\S{40,}$/);
    const logs = join(cwd, '.data/logs');
    const text = (await Promise.all((await readdir(logs)).map((name) => readFile(join(logs, name), 'utf8')))).join('\n') + proc.stdout + proc.stderr;
    assert.ok(!text.includes(token), 'the token is in no log');
    assert.ok(text.includes(file) || text.includes('admin.token'), 'a log names the file');
    const elsewhere = await tempDir('allinone-no-token');
    const refused = await cli({ api, cwd: elsewhere }, 'hosts', 'list');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNAUTHENTICATED/);
  });

  test('the host reaches the plane only through pf9-comms and the ingress, with its own certificate and broker user', async () => {
    assert.match(await readFile(join(cwd, '.data/host/etc/pf9/certs/host.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    const metrics = await (await fetch(`${ingressAdmin}/metrics`)).text();
    assert.match(metrics, /route="pf9-amqp"/);
    assert.match(metrics, /route="pf9-join"/);
    await waitFor('the heartbeat to report comms running', async () => (await show()).info.comms?.state === 'running');
    const broker = JSON.parse(await readFile(join(cwd, '.data/host/etc/pf9/broker.json'), 'utf8')) as { username: string };
    assert.equal(broker.username, `pf9-host-${hostId}`);
    // The agent meets comms on Unix sockets in a folder closed to other users, not on TCP ports.
    const sockets = join(cwd, '.data/host/run/pf9-comms');
    assert.equal((await stat(sockets)).mode & 0o7777, 0o700);
    for (const name of ['amqp.sock', 'http.sock', 'join.sock']) {
      const socket = await lstat(join(sockets, name));
      assert.ok(socket.isSocket(), name);
      assert.equal(socket.mode & 0o7777, 0o600, name);
    }
    for (const [path, mode] of [['etc/pf9/certs', 0o700], ['etc/pf9/certs/host.key', 0o600], ['etc/pf9/broker.json', 0o600], ['var/lib/pf9/hostagent', 0o700]] as const) {
      assert.equal((await stat(join(cwd, '.data/host', path))).mode & 0o7777, mode, path);
    }
  });

  test('authorize, upload the keepalived example, assign it; the host applies it and corrects a hand edit', async () => {
    assert.equal((await cli({ api, cwd }, 'authorize', hostId)).code, 0);
    const upload = await cli({ api, cwd }, 'roles', 'upload', join(REPO_ROOT, 'examples/roles/keepalived'));
    assert.equal(upload.code, 0, upload.stderr);
    const assign = await cli({ api, cwd }, 'role', 'assign', hostId, 'keepalived-vip', '--config', JSON.stringify(VIP));
    assert.equal(assign.code, 0, assign.stderr);
    await waitFor('keepalived-vip applied', async () => (await show()).roles.find((r) => r.name === 'keepalived-vip')?.state === 'applied', { timeoutMs: 30_000 });
    const conf = join(cwd, '.data/host/etc/keepalived/keepalived.conf');
    const rendered = await readFile(conf, 'utf8');
    assert.match(rendered, /interface eth0/);
    assert.match(rendered, /10\.0\.0\.100\/24/);
    await writeFile(conf, rendered.replace('interface eth0', 'interface eth1'));
    await waitFor('the VIP interface put back', async () => /interface eth0/.test(await readFile(conf, 'utf8')), { timeoutMs: 20_000 });
    await waitFor('the plane to hear of it', async () => (await show()).roles[0]?.message === 'configuration drift corrected');
  });

  test('unassign: the host stops and removes the role', async () => {
    assert.equal((await cli({ api, cwd }, 'role', 'unassign', hostId, 'keepalived-vip')).code, 0);
    await waitFor('the role gone', async () => (await show()).roles.length === 0, { timeoutMs: 20_000 });
    await assert.rejects(readFile(join(cwd, '.data/host/etc/keepalived/keepalived.conf')), /ENOENT/);
  });

  test('Ctrl-C stops everything cleanly', async () => {
    proc.kill('SIGINT');
    assert.equal(await proc.exit(20_000), 0);
    await assert.rejects(fetch(`${api}/healthz`), 'the role store is gone');
  });
});
