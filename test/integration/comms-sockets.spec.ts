import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, lstat, mkdir, stat, symlink } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { commsSocketListen } from '#contracts';
import { startComms, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import { loadIngressConfig } from '../../services/ingress/ingress.config';
import { tempDir } from '../support/fixtures';
import { requireRoot, spawnAs, tryAs, userByName, type TestUser } from '../support/local-users';
import { DIST, Proc } from '../support/processes';
import { createTestCerts, type TestCerts } from '../support/test-certs';
import { waitFor } from '../support/wait';

/** A backend that answers `<tag>|<what it got>` once the client has ended its side. */
async function echoBackend(tag: string): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(Buffer.concat([Buffer.from(`${tag}|`), ...chunks])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function exchangeOver(path: string, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect({ path, allowHalfOpen: true });
    socket.on('connect', () => socket.end(payload));
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.on('end', () => socket.end());
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
  });
}

const owned = async (path: string): Promise<[number, number]> => {
  const info = await lstat(path);
  return [info.uid, info.mode & 0o7777];
};

/**
 * A squatter: another local user listening on sockets where the agent might look for
 * comms's, and telling the test about every connection and every byte it gets.
 */
class Squatter {
  readonly seen: string[] = [];
  private output = '';
  private readonly child: ChildProcess;

  constructor(user: TestUser, paths: string[], link?: { from: string; to: string }) {
    const script = `
      const fs = require('node:fs'), net = require('node:net'), path = require('node:path');
      const [link, ...paths] = process.argv.slice(1);
      for (const p of paths) {
        fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
        try { fs.rmSync(p, { force: true }); } catch {}
      }
      if (link !== '-') { const [from, to] = link.split('>'); fs.symlinkSync(to, from); }
      let ready = 0;
      for (const p of paths) {
        net.createServer((s) => {
          process.stdout.write('connection ' + p + '\\n');
          s.on('data', (d) => process.stdout.write('data ' + p + ' ' + d.toString('base64') + '\\n'));
          s.on('error', () => {});
        }).listen(p, () => { fs.chmodSync(p, 0o777); if (++ready === paths.length) process.stdout.write('listening\\n'); });
      }`;
    this.child = spawnAs(user, ['-e', script, link ? `${link.from}>${link.to}` : '-', ...paths], {});
    this.child.stdout?.on('data', (d: Buffer) => {
      this.output += d.toString();
      this.seen.push(...d.toString().split('\n').filter((l) => l.startsWith('connection') || l.startsWith('data')));
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  listening(): Promise<true> {
    return waitFor(`the squatter to listen (${this.output})`, () => this.output.includes('listening') || undefined, { timeoutMs: 10_000 });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

describe("the host's side of the tunnel: comms's Unix sockets against another local user", () => {
  let certs: TestCerts;
  let nobody: TestUser;
  let ingress: RunningIngress;
  const backends: Server[] = [];

  before(async () => {
    requireRoot("testing comms's sockets against another local user");
    nobody = userByName('nobody');
    certs = await createTestCerts();
    const [amqp, http, joinBackend] = await Promise.all(['amqp', 'http', 'join'].map(echoBackend));
    backends.push(amqp!, http!, joinBackend!);
    const port = (s: Server): number => (s.address() as AddressInfo).port;
    ingress = await startIngress(
      loadIngressConfig({
        PF9_INGRESS_LISTEN: '127.0.0.1:0',
        PF9_INGRESS_ADMIN: '127.0.0.1:0',
        PF9_INGRESS_ROUTES: `pf9-amqp=127.0.0.1:${port(amqp!)},pf9-http=127.0.0.1:${port(http!)},pf9-join=127.0.0.1:${port(joinBackend!)}`,
        PF9_INGRESS_CERT_FILE: certs.server.cert,
        PF9_INGRESS_KEY_FILE: certs.server.key,
        PF9_INGRESS_CA_FILE: certs.ca.cert,
        PF9_LOG_LEVEL: 'error',
      }),
    );
  });

  after(async () => {
    await ingress?.close();
    for (const backend of backends) backend.close();
  });

  /** A host root that every user may pass through (as / is), with the CA and the host's certificate. */
  async function hostRoot(): Promise<string> {
    const root = await tempDir('comms-sockets');
    await chmod(root, 0o755);
    await mkdir(join(root, 'etc/pf9/certs'), { recursive: true, mode: 0o700 });
    await copyFile(certs.ca.cert, join(root, 'etc/pf9/certs/ca.crt'));
    await copyFile(certs.host.cert, join(root, 'etc/pf9/certs/host.crt'));
    await copyFile(certs.host.key, join(root, 'etc/pf9/certs/host.key'));
    return root;
  }

  function commsOn(root: string, listen: string): Promise<RunningComms> {
    return Promise.resolve().then(() =>
      startComms(
        loadCommsConfig({
          PF9_ROOT: root,
          PF9_COMMS_LISTEN: listen,
          PF9_PLANE_HOST: '127.0.0.1',
          PF9_PLANE_PORT: String(ingress.port),
          PF9_PLANE_SERVERNAME: 'localhost',
          PF9_COMMS_ADMIN: '127.0.0.1:0',
          PF9_LOG_LEVEL: 'error',
        }),
      ),
    );
  }

  test('comms listens in a folder only its user may enter; the agent gets through, another user can neither connect nor squat, even while comms is down', async () => {
    const root = await hostRoot();
    const dir = join(root, 'run/pf9-comms');
    const comms = await commsOn(root, `${commsSocketListen(dir)},sidekick=127.0.0.1:0`);
    try {
      assert.deepEqual(comms.sockets, { amqp: join(dir, 'amqp.sock'), http: join(dir, 'http.sock'), join: join(dir, 'join.sock') });
      assert.ok(comms.listeners.sidekick !== undefined, 'TCP listeners stay available for what needs them');
      assert.deepEqual(await owned(dir), [0, 0o700]);
      for (const name of ['amqp.sock', 'http.sock', 'join.sock']) {
        assert.ok((await lstat(join(dir, name))).isSocket());
        assert.deepEqual(await owned(join(dir, name)), [0, 0o600], name);
      }
      assert.equal(await exchangeOver(join(dir, 'join.sock'), 'token please'), 'join|token please');
      assert.equal(await exchangeOver(join(dir, 'http.sock'), 'GET'), 'http|GET');
      // The AMQP route's bytes are read by the ingress (a host logs in as itself only): here it is enough that the socket answers.
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ path: join(dir, 'amqp.sock') });
        socket.once('connect', () => (socket.destroy(), resolve()));
        socket.once('error', reject);
      });

      assert.equal(tryAs(nobody, 'connect', join(dir, 'join.sock')), 'EACCES');
      assert.equal(tryAs(nobody, 'connect', join(dir, 'amqp.sock')), 'EACCES');
      assert.equal(tryAs(nobody, 'list', dir), 'EACCES');
      assert.equal(tryAs(nobody, 'listen', join(dir, 'squat.sock')), 'EACCES');
    } finally {
      await comms.close();
    }
    // comms is down (a crash, a restart): its sockets are gone, and still nobody else may put one there.
    await assert.rejects(lstat(join(dir, 'join.sock')), /ENOENT/);
    assert.equal(tryAs(nobody, 'listen', join(dir, 'join.sock')), 'EACCES');
    assert.equal(tryAs(nobody, 'listen', join(dir, 'amqp.sock')), 'EACCES');
    // And it comes back in the same folder.
    const again = await commsOn(root, commsSocketListen(dir));
    try {
      assert.equal(await exchangeOver(join(dir, 'http.sock'), 'GET'), 'http|GET');
    } finally {
      await again.close();
    }
  });

  test('comms refuses to listen in a folder that is not its own, is open to others, or is a link', async () => {
    const root = await hostRoot();
    const theirs = join(root, 'run/theirs');
    await mkdir(theirs, { recursive: true, mode: 0o700 });
    await chown(theirs, nobody.uid, nobody.gid);
    await assert.rejects(commsOn(root, commsSocketListen(theirs)), new RegExp(`refusing to listen on ${theirs}/amqp\\.sock: ${theirs} is owned by uid ${nobody.uid}`));

    for (const mode of [0o755, 0o770, 0o1777]) {
      const open = join(root, `run/open-${mode.toString(8)}`);
      await mkdir(open, { recursive: true });
      await chmod(open, mode);
      await assert.rejects(commsOn(root, commsSocketListen(open)), /is open to other users/, mode.toString(8));
      await assert.rejects(lstat(join(open, 'amqp.sock')), /ENOENT/);
    }

    const real = join(root, 'run/real');
    await mkdir(real, { recursive: true, mode: 0o700 });
    await symlink(real, join(root, 'run/link'));
    await assert.rejects(commsOn(root, commsSocketListen(join(root, 'run/link'))), /is a symbolic link/);
  });

  /** Runs the agent against `socketDir` until it says why it refuses it; answers that line. */
  async function agentRefuses(socketDir: string, withToken: boolean, why: RegExp): Promise<void> {
    const root = await tempDir('agent-refuses');
    const agent = new Proc(
      join(DIST, 'services/hostagent/main.js'),
      {
        PATH: process.env.PATH,
        PF9_ROOT: root,
        PF9_COMMS_SOCKET_DIR: socketDir,
        PF9_JOIN_TOKEN: withToken ? 'join-token-for-the-plane-only' : '',
        AMQP_URL: 'amqp://guest:broker-password-for-the-plane-only@localhost/',
        PF9_AGENT_METRICS_PORT: '0',
        PF9_LOG_LEVEL: 'warn',
      },
      root,
    );
    try {
      const what = withToken ? 'cannot register with the plane yet' : 'cannot connect to the broker';
      const line = await agent.line(new RegExp(`"msg":"${what}[^"]*".*refusing to connect through ${socketDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ([^"]*)`), 20_000);
      assert.match(line[1]!, why);
    } finally {
      agent.kill('SIGKILL');
    }
  }

  test('the agent refuses a socket folder another user could have planted: the squatter never hears the join token or the broker password', async () => {
    const base = await tempDir('squat');
    await chmod(base, 0o1777); // as /tmp: anyone may make a folder here
    const planted = join(base, 'pf9-comms');
    const squatter = new Squatter(nobody, [join(planted, 'join.sock'), join(planted, 'amqp.sock')]);
    try {
      await squatter.listening();
      assert.deepEqual(await owned(planted), [nobody.uid, 0o700]);
      await agentRefuses(planted, true, new RegExp(`owned by uid ${nobody.uid}, not by root`));
      await agentRefuses(planted, false, new RegExp(`owned by uid ${nobody.uid}, not by root`));
    } finally {
      squatter.stop();
    }
    assert.deepEqual(squatter.seen, [], 'nothing reached the squatter');
  });

  test("the agent refuses root's socket folder when others may write in it, and a link in place of the folder", async () => {
    const base = await tempDir('careless');
    await chmod(base, 0o1777);
    const open = join(base, 'open');
    await mkdir(open, { mode: 0o777 });
    await chmod(open, 0o777); // a careless operator's folder: root's, but anyone may add a socket
    const squatter = new Squatter(nobody, [join(open, 'join.sock'), join(base, 'elsewhere/amqp.sock')], { from: join(base, 'link'), to: join(base, 'elsewhere') });
    try {
      await squatter.listening();
      assert.equal((await stat(open)).uid, 0);
      await agentRefuses(open, true, /writable by other users \(mode 0777\)/);
      await agentRefuses(join(base, 'link'), false, /is a symbolic link/);
    } finally {
      squatter.stop();
    }
    assert.deepEqual(squatter.seen, [], 'nothing reached the squatter');
  });
});
