import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PkiFiles } from '#contracts';
import { atomicWriteTarget } from '#private-fs';
import type { RunningRolestore } from '../../services/rolestore/rolestore.app';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import type { IngressConfig } from '../../services/ingress/ingress.config';
import { buildRole, fileRole, tempDir } from '../support/fixtures';
import { startHostPlane } from '../support/host-plane';
import { createTestUser, requireRoot, spawnAs, tryAs, userByName, type TestUser } from '../support/local-users';
import { DIST, freePort, REPO_ROOT } from '../support/processes';
import { ServiceProcess } from '../support/service-process';
import { readServiceUnit, type ServiceUnit } from '../support/systemd-unit';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch } from '../support/operator-auth';

const UNITS = join(REPO_ROOT, 'docker/systemd');

/** What a file or folder under the host's root must be: its owner and its exact mode. */
type Expected = { owner: 'root' | 'comms'; mode: number; dir?: true };

/**
 * Every file and folder the agent may leave under etc/pf9 and var/lib/pf9, by path relative to
 * PF9_ROOT (outbox entries by pattern). Anything else found there fails the test.
 */
function expectedFiles(comms: 'root' | 'comms'): Array<[RegExp, Expected]> {
  return [
    [/^etc\/pf9$/, { owner: 'root', mode: 0o755, dir: true }],
    [/^etc\/pf9\/host_id\.conf$/, { owner: 'root', mode: 0o644 }],
    [/^etc\/pf9\/broker\.json$/, { owner: 'root', mode: 0o600 }],
    [/^etc\/pf9\/plane\.json$/, { owner: 'root', mode: 0o644 }],
    [/^etc\/pf9\/certs$/, { owner: comms, mode: 0o700, dir: true }],
    [/^etc\/pf9\/certs\/host\.key$/, { owner: comms, mode: 0o600 }],
    [/^etc\/pf9\/certs\/(host|ca)\.crt$/, { owner: comms, mode: 0o644 }],
    [/^var\/lib\/pf9$/, { owner: 'root', mode: 0o755, dir: true }],
    [/^var\/lib\/pf9\/hostagent$/, { owner: 'root', mode: 0o700, dir: true }],
    [/^var\/lib\/pf9\/hostagent\/state\.json$/, { owner: 'root', mode: 0o600 }],
    [/^var\/lib\/pf9\/hostagent\/certificate-receipt\.json$/, { owner: 'root', mode: 0o600 }],
    [/^var\/lib\/pf9\/hostagent\/outbox$/, { owner: 'root', mode: 0o700, dir: true }],
    [/^var\/lib\/pf9\/hostagent\/outbox\/\d{16}\.json$/, { owner: 'root', mode: 0o600 }],
  ];
}

async function walk(root: string, dir: string, out: string[]): Promise<void> {
  out.push(relative(root, dir));
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await walk(root, join(dir, entry.name), out);
    // An outbox entry may be sent and deleted between readdir and lstat.
    else out.push(relative(root, join(dir, entry.name)));
  }
}

/** Checks every file and folder under etc/pf9 and var/lib/pf9 against `expected`; owners by uid. */
async function checkHostFiles(root: string, expected: Array<[RegExp, Expected]>, uids: { root: number; comms: number }): Promise<string[]> {
  const found: string[] = [];
  for (const top of ['etc/pf9', 'var/lib/pf9']) await walk(root, join(root, top), found);
  const problems: string[] = [];
  for (const path of found) {
    // A running agent may be in the middle of an atomic write: its temporary file
    // must already be as private as the file it becomes.
    const becomes = atomicWriteTarget(path) ?? path;
    const rule = expected.find(([pattern]) => pattern.test(becomes));
    if (rule === undefined) {
      problems.push(`${path}: not expected there`);
      continue;
    }
    const info = await lstat(join(root, path)).catch(() => null);
    if (info === null) continue;
    const want = rule[1];
    const got = `${info.isDirectory() ? 'dir' : 'file'} uid ${info.uid} mode ${(info.mode & 0o7777).toString(8)}`;
    const wanted = `${want.dir ? 'dir' : 'file'} uid ${uids[want.owner]} mode ${want.mode.toString(8)}`;
    if (got !== wanted) problems.push(`${path}: ${got}, expected ${wanted}`);
  }
  assert.deepEqual(problems, []);
  return found;
}

/** A unit's environment as systemd gives it, on a host whose root is `root` (PF9_ROOT, /run under it). */
function unitEnvironment(unit: ServiceUnit, root: string, names: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  for (const [name, value] of Object.entries(unit.environment)) {
    if (name === 'PF9_ROOT') env[name] = join(root, value);
    else env[name] = value.replaceAll('/run/', `${root}/run/`).replace(/^(\w+)$/, (word) => names[word] ?? word);
  }
  return env;
}

function nodeScript(unit: ServiceUnit, service: string): string {
  assert.equal(unit.execStart[0], '/usr/bin/node');
  assert.match(unit.execStart[1] ?? '', new RegExp(`/dist/services/${service}/main\\.js$`));
  return join(DIST, 'services', service, 'main.js');
}

describe('the shipped systemd units, run as they say, against files the code itself wrote', () => {
  let dataDir: string;
  let rs: RunningRolestore;
  let ingress: RunningIngress;
  let nobody: TestUser;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    requireRoot('running the systemd units as their users');
    nobody = userByName('nobody');
    let ingressConfig: IngressConfig;
    ({ dataDir, rs, ingressConfig } = await startHostPlane('units-plane', '127.0.0.1:0'));
    ingress = await startIngress(ingressConfig);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await ingress?.close();
    await rs?.close();
  });

  function keep(child: ChildProcess, name: string): { output(): string; stop(): Promise<void> } {
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    };
    cleanups.push(stop);
    return { output: () => `${name}:\n${output}`, stop };
  }

  async function joinToken(): Promise<string> {
    const res = await planeFetch(rs, `${rs.url}/v1/join-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    return ((await res.json()) as { token: string }).token;
  }

  /** A host root as an operator prepares it: / passable by all, the plane's CA installed by root. */
  async function hostRoot(prefix: string): Promise<string> {
    const root = await tempDir(prefix);
    await chmod(root, 0o755);
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true, mode: 0o755 });
    await copyFile(join(dataDir, PkiFiles.plane.caCert), join(root, PkiFiles.host.caCert));
    return root;
  }

  async function heartbeatOf(hostIdFile: string, outputs: () => string): Promise<string> {
    const hostId = await waitFor(`the host id\n${outputs()}`, async () => /host_id\s*=\s*(\S+)/.exec(await readFile(hostIdFile, 'utf8'))?.[1]);
    await waitFor(
      `the first heartbeat through comms\n${outputs()}`,
      async () => {
        const res = await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`);
        return res.ok && ((await res.json()) as { lastHeartbeatAt: string | null }).lastHeartbeatAt !== null;
      },
      { timeoutMs: 45_000 },
    );
    return hostId;
  }

  /** Assigns a role whose config holds a secret, so the agent keeps it in its state; waits until applied. */
  async function applySecretRole(hostId: string, outputs: () => string): Promise<void> {
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/authorize`, { method: 'POST' })).status, 200);
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole('units-secret', '1.0.0')) });
    assert.ok(upload.status === 201 || upload.status === 409);
    await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/roles/units-secret`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"config":{"password":"s3cret"}}' });
    await waitFor(
      `the role applied through comms\n${outputs()}`,
      async () => ((await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { roles: Array<{ state: string }> }).roles[0]?.state === 'applied',
      { timeoutMs: 45_000 },
    );
  }

  test('pf9-comms as its own user and the agent as root: comms reads exactly the key and certificates, the agent keeps everything else to itself, and no other user reads or reaches anything', async () => {
    const commsUnit = readServiceUnit(join(UNITS, 'pf9-comms.service'));
    const agentUnit = readServiceUnit(join(UNITS, 'pf9-hostagent.service'));
    assert.equal(commsUnit.user, 'pf9', 'comms runs as pf9');
    assert.equal(agentUnit.user, undefined, 'the agent runs as root: role hooks install software');
    assert.equal(agentUnit.environment.PF9_COMMS_USER, commsUnit.user, "the agent gives the key to comms's user");

    // A throwaway user stands in for pf9 on this machine.
    const pf9 = createTestUser('hp-comms-');
    cleanups.push(() => pf9.remove());
    const names = { [commsUnit.user!]: pf9.name };
    const root = await hostRoot('units-host');
    // systemd's RuntimeDirectory=, made for comms's user before it starts.
    const runtime = join(root, 'run', commsUnit.runtimeDirectory!);
    await mkdir(runtime, { recursive: true });
    await chown(runtime, pf9.uid, pf9.gid);
    await chmod(runtime, commsUnit.runtimeDirectoryMode!);

    const adminPort = await freePort();
    const commsEnv = {
      ...unitEnvironment(commsUnit, root, names),
      // /etc/pf9/comms.env on a host.
      PF9_PLANE_HOST: '127.0.0.1',
      PF9_PLANE_PORT: String(ingress.port),
      PF9_PLANE_SERVERNAME: 'localhost',
      PF9_COMMS_ADMIN: `127.0.0.1:${adminPort}`,
    };
    const startComms = async (): Promise<ReturnType<typeof keep>> => {
      const started = keep(spawnAs(pf9, [nodeScript(commsUnit, 'comms')], commsEnv, '/'), 'pf9-comms');
      await waitFor(`comms's sockets\n${started.output()}`, async () => (await lstat(join(runtime, 'join.sock')).catch(() => null))?.isSocket());
      return started;
    };
    let comms = await startComms();

    const agentEnv: NodeJS.ProcessEnv = {
      ...unitEnvironment(agentUnit, root, names),
      // /etc/pf9/hostagent.env on a host: the token, and the broker's vhost.
      PF9_JOIN_TOKEN: await joinToken(),
      AMQP_URL: brokerUrl(),
      // systemd restarts comms on a host; here the test started it.
      PF9_COMMS_COMMAND: '',
      PF9_COMMS_HEALTH_URL: `http://127.0.0.1:${adminPort}/healthz`,
      PF9_AGENT_METRICS_PORT: String(await freePort()),
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '2',
    };
    assert.equal(agentEnv.PF9_COMMS_SOCKET_DIR, runtime, "the agent looks for comms's sockets where comms makes them");
    const startAgent = (env: NodeJS.ProcessEnv): ServiceProcess => {
      const agent = new ServiceProcess('pf9-hostagent', process.execPath, [nodeScript(agentUnit, 'hostagent')], { env, cwd: '/' });
      cleanups.push(() => agent.stop());
      return agent;
    };
    // First start: it registers; comms tunnels the broker connection with the key the agent wrote at registration.
    let agentProc = startAgent(agentEnv);
    const outputs = (): string => `${comms.output()}\npf9-hostagent:\n${agentProc.output}`;
    const hostId = await heartbeatOf(join(root, 'etc/pf9/host_id.conf'), outputs);
    await applySecretRole(hostId, outputs);

    // Second start, on what the first one wrote: a renewal due at once, and comms tunnels with the renewed key.
    await agentProc.stop();
    agentProc = startAgent({ ...agentEnv, PF9_JOIN_TOKEN: '', PF9_CERT_RENEW_BEFORE_DAYS: '400' });
    const metrics = `http://127.0.0.1:${agentEnv.PF9_AGENT_METRICS_PORT}/metrics`;
    await waitFor(`the certificate renewed\n${outputs()}`, async () => /certificate_renewals_total\{outcome="renewed"\} 1/.test(await (await fetch(metrics)).text()), { timeoutMs: 30_000 });
    // comms restarted (as systemd would, one day) must read the renewed key to tunnel anything.
    await comms.stop();
    comms = await startComms();
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(fileRole('units-renewed', '1.0.0')) });
    assert.ok(upload.status === 201 || upload.status === 409);
    await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/roles/units-renewed`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"config":{"token":"t0ken"}}' });
    await waitFor(`the second role applied through the restarted comms\n${outputs()}`, async () => {
      const roles = ((await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { roles: Array<{ name: string; state: string }> }).roles;
      return roles.find((r) => r.name === 'units-renewed')?.state === 'applied';
    }, { timeoutMs: 45_000 });

    const found = await checkHostFiles(root, expectedFiles('comms'), { root: 0, comms: pf9.uid });
    for (const needed of ['etc/pf9/certs/host.key', 'etc/pf9/broker.json', 'var/lib/pf9/hostagent/state.json', 'var/lib/pf9/hostagent/outbox']) assert.ok(found.includes(needed), needed);

    const at = (path: string): string => join(root, path);
    // comms's user reads what comms needs, and nothing of the agent's.
    for (const path of ['etc/pf9/certs/host.key', 'etc/pf9/certs/host.crt', 'etc/pf9/certs/ca.crt']) assert.equal(tryAs(pf9, 'read', at(path)), 'ok', path);
    for (const path of ['etc/pf9/broker.json', 'var/lib/pf9/hostagent/state.json']) assert.equal(tryAs(pf9, 'read', at(path)), 'EACCES', path);
    assert.equal(tryAs(pf9, 'list', at('var/lib/pf9/hostagent/outbox')), 'EACCES');
    // Any other user: nothing to read, no socket to reach, no socket to plant.
    for (const path of ['etc/pf9/certs/host.key', 'etc/pf9/broker.json', 'var/lib/pf9/hostagent/state.json']) assert.equal(tryAs(nobody, 'read', at(path)), 'EACCES', path);
    assert.equal(tryAs(nobody, 'list', at('etc/pf9/certs')), 'EACCES');
    for (const name of ['amqp.sock', 'http.sock', 'join.sock']) {
      assert.deepEqual([(await lstat(join(runtime, name))).uid, (await lstat(join(runtime, name))).mode & 0o7777], [pf9.uid, 0o600], name);
      assert.equal(tryAs(nobody, 'connect', join(runtime, name)), 'EACCES', name);
    }
    assert.equal(tryAs(nobody, 'listen', join(runtime, 'squat.sock')), 'EACCES');
  });

  test('the agent as an unprivileged user (the compose stack, the all-in-one) runs comms as itself: both read what they need, no other user reads anything', async () => {
    const agentUnit = readServiceUnit(join(UNITS, 'pf9-hostagent.service'));
    const self = createTestUser('hp-agent-');
    cleanups.push(() => self.remove());
    const root = await hostRoot('unprivileged-host');
    for (const path of ['', 'etc', 'etc/pf9', PkiFiles.host.dir, PkiFiles.host.caCert]) await chown(join(root, path), self.uid, self.gid);
    const sockets = join(root, 'run/pf9-comms');
    const adminPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...unitEnvironment(agentUnit, root, {}),
      PF9_COMMS_USER: '',
      PF9_JOIN_TOKEN: await joinToken(),
      AMQP_URL: brokerUrl(),
      PF9_COMMS_COMMAND: `exec "${process.execPath}" "${join(DIST, 'services/comms/main.js')}"`,
      PF9_COMMS_LISTEN: `amqp=unix:${sockets}/amqp.sock,http=unix:${sockets}/http.sock,join=unix:${sockets}/join.sock`,
      PF9_COMMS_ADMIN: `127.0.0.1:${adminPort}`,
      PF9_COMMS_HEALTH_URL: `http://127.0.0.1:${adminPort}/healthz`,
      PF9_PLANE_HOST: '127.0.0.1',
      PF9_PLANE_PORT: String(ingress.port),
      PF9_PLANE_SERVERNAME: 'localhost',
      PF9_AGENT_METRICS_PORT: '0',
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '2',
    };
    assert.equal(env.PF9_COMMS_SOCKET_DIR, sockets);
    const agent = keep(spawnAs(self, [join(DIST, 'services/hostagent/main.js')], env, '/'), 'pf9-hostagent');
    const hostId = await heartbeatOf(join(root, 'etc/pf9/host_id.conf'), agent.output);
    await applySecretRole(hostId, agent.output);

    await checkHostFiles(root, expectedFiles('root'), { root: self.uid, comms: self.uid });
    assert.deepEqual([(await lstat(sockets)).uid, (await lstat(sockets)).mode & 0o7777], [self.uid, 0o700]);
    for (const path of ['etc/pf9/certs/host.key', 'etc/pf9/broker.json', 'var/lib/pf9/hostagent/state.json']) {
      assert.equal(tryAs(self, 'read', join(root, path)), 'ok', path);
      assert.equal(tryAs(nobody, 'read', join(root, path)), 'EACCES', path);
    }
    assert.equal(tryAs(nobody, 'connect', join(sockets, 'amqp.sock')), 'EACCES');
    assert.equal(tryAs(nobody, 'listen', join(sockets, 'squat.sock')), 'EACCES');
  });
});
