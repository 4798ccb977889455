import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { commsSocketFile, CommsSockets, commsSocketListen, PkiFiles } from '#contracts';
import { initPlanePki } from '#pki';
import { STOP_WITH_PARENT_VARIABLE, stopWithParent } from '../../libs/lifetime';
import { MAX_SOCKET_PATH_BYTES } from '#private-fs';
import { loadAllInOneConfig, plannedPorts, type AllInOneConfig } from './allinone.config';
import { brokerAddress, ensureBroker, ensureManagementApi, NO_MANAGEMENT_HELP } from './broker-check';
import { portsInUse } from './port-check';

/**
 * `npm start`: the plane (role store and ingress) and one host (host agent, which runs
 * and watches pf9-comms) on this machine, as child processes, each logging JSON lines to
 * a file. The host reaches the plane only through comms and the ingress, over TLS with
 * its own certificate (the PKI is made on first start, the host registers with a
 * one-time join token). One line on standard output once the host has sent its first
 * heartbeat; Ctrl-C stops everything.
 */
const distRoot = resolve(__dirname, '..');

function say(line: string): void {
  process.stderr.write(`hostplane: ${line}\n`);
}

interface Child {
  name: string;
  process: ChildProcess;
  log: string;
}

/** Where a plane that had no admin token wrote the one it made (CONTRACT.md section 8). */
const ADMIN_TOKEN_FILE = 'admin.token';

const children: Child[] = [];
let stopping = false;

/**
 * Starts a piece in this process group (so that a signal to the group reaches it), with a
 * pipe on its standard input that nothing is written to: when this process is gone,
 * however it went, the pipe ends and the piece stops (PF9_STOP_WITH_PARENT).
 */
function startChild(name: string, script: string, env: NodeJS.ProcessEnv, logDir: string): Child {
  const log = join(logDir, `${name}.log`);
  const out = createWriteStream(log, { flags: 'a' });
  const child = spawn(process.execPath, [join(distRoot, script)], { env: { ...env, [STOP_WITH_PARENT_VARIABLE]: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const entry = { name, process: child, log };
  child.on('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} stopped unexpectedly (${signal ?? `exit ${code}`}); see ${log}`);
    void stop(1);
  });
  children.push(entry);
  return entry;
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // The host first, so that its last reports still find the plane.
  for (const child of [...children].reverse()) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) continue;
    child.process.kill('SIGTERM');
    const exited = await Promise.race([
      new Promise<boolean>((r) => child.process.once('exit', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref()),
    ]);
    if (!exited) child.process.kill('SIGKILL');
  }
  process.exit(code);
}

async function waitUntil<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    if (stopping) throw new Error('stopping');
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(config: AllInOneConfig): Promise<void> {
  // Ctrl-C, a service manager's SIGTERM, a closed terminal's SIGHUP: one orderly stop (a
  // signal again meanwhile changes nothing; the stop is bounded anyway).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));
  if (config.stopWithParent) stopWithParent(say);
  // A port held already (a pf9-comms an earlier run left, another program) is said, not adopted.
  const busy = await portsInUse(plannedPorts(config));
  if (busy.length > 0) {
    throw new Error(`${busy.join('; ')}: stop it first (a service left by an earlier run?), or choose other ports`);
  }
  await ensureBroker(config.amqpUrl, config.startLocalBroker, say);
  const logDir = resolve(config.dataDir, '..', 'logs');
  await mkdir(logDir, { recursive: true });
  await mkdir(config.hostRoot, { recursive: true });
  if (!existsSync(join(config.dataDir, PkiFiles.plane.caCert))) {
    const paths = await initPlanePki(config.dataDir, { ingressNames: ['localhost'], ingressIps: ['127.0.0.1'] });
    say(`made the plane's CA and the ingress certificate (${paths.caCert})`);
  }
  // Each host its own broker user needs the management API; without it, only an explicit insecure setting runs.
  const hostUsers = await ensureManagementApi(config.amqpUrl, say);
  if (!hostUsers && config.insecureSharedBrokerUser === undefined) throw new Error(NO_MANAGEMENT_HELP);
  if (!hostUsers) say(`INSECURE: the host shares the broker user ${config.insecureSharedBrokerUser ?? ''} and could act as any host (PF9_INSECURE_SHARED_BROKER_USER)`);
  const api = `http://127.0.0.1:${config.apiPort}`;
  const broker = brokerAddress(config.amqpUrl);
  const deadline = Date.now() + config.readyTimeoutMs;
  const planeEnv = {
    ...process.env,
    AMQP_URL: config.amqpUrl,
    PF9_DATA_DIR: config.dataDir,
    PF9_API_PORT: String(config.apiPort),
    PF9_JOIN_PORT: String(config.joinPort),
    PF9_HOST_API_PORT: String(config.hostApiPort),
    PF9_HOST_BROKER_USERS: hostUsers ? 'on' : 'off',
  };

  const plane = startChild('rolestore', 'rolestore/main.js', planeEnv, logDir);
  say(`role store starting (logs: ${plane.log})`);
  await waitUntil('the role store to be healthy', deadline, async () => ((await fetch(`${api}/healthz`)).ok ? true : undefined));
  // What the all-in-one asks of the plane, it asks as an operator: HOSTPLANE_TOKEN, or the
  // first admin token the plane wrote (the CLI in this folder finds the same file).
  const operatorToken = config.operatorToken ?? (await readFile(join(config.dataDir, ADMIN_TOKEN_FILE), 'utf8')).split('\n')[0]!.trim();
  const asOperator = { authorization: `Bearer ${operatorToken}` };

  const ingress = startChild(
    'ingress',
    'ingress/main.js',
    {
      ...planeEnv,
      PF9_INGRESS_LISTEN: `127.0.0.1:${config.ingressPort}`,
      PF9_INGRESS_ADMIN: `127.0.0.1:${config.ingressAdminPort}`,
      PF9_INGRESS_ROUTES: `pf9-amqp=${broker.host}:${broker.port},pf9-http=127.0.0.1:${config.hostApiPort},pf9-join=127.0.0.1:${config.joinPort}`,
    },
    logDir,
  );
  say(`ingress starting on 127.0.0.1:${config.ingressPort} (logs: ${ingress.log})`);
  await waitUntil('the ingress to be healthy', deadline, async () => ((await fetch(`http://127.0.0.1:${config.ingressAdminPort}/healthz`)).ok ? true : undefined));

  // The host trusts the plane's CA (on a real host the operator installs it, or the
  // plane's certificate is publicly trusted); without its certificate it registers with a
  // one-time token.
  const hostCa = join(config.hostRoot, PkiFiles.host.caCert);
  if (!existsSync(hostCa)) {
    await mkdir(dirname(hostCa), { recursive: true });
    await copyFile(join(config.dataDir, PkiFiles.plane.caCert), hostCa);
  }
  const hostIdFile = join(config.hostRoot, 'etc/pf9/host_id.conf');
  const knownHostId = async (): Promise<string | undefined> => /host_id\s*=\s*(\S+)/.exec(await readFile(hostIdFile, 'utf8'))?.[1];
  let joinToken = '';
  if (!existsSync(join(config.hostRoot, PkiFiles.host.cert))) {
    // A host that has its id already may have registered before (its certificate since
    // lost): only a token made for it lets it register again.
    const hostId = existsSync(hostIdFile) ? await knownHostId() : undefined;
    const res = await fetch(`${api}/v1/join-tokens`, { method: 'POST', headers: { ...asOperator, 'content-type': 'application/json' }, body: JSON.stringify({ ttlS: 600, hostId }) });
    if (!res.ok) throw new Error(`could not create a join token: ${res.status} ${await res.text()}`);
    joinToken = ((await res.json()) as { token: string }).token;
  }
  // The agent and comms meet on Unix sockets in a folder only this user may enter, as on a
  // real host: no other local user can reach them or listen in their place.
  const sockets = join(config.hostRoot, CommsSockets.dir);
  if (Buffer.byteLength(join(sockets, commsSocketFile('amqp'))) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`the host's sockets would be in ${sockets}, too long a path for Unix sockets: set PF9_ROOT to a shorter folder`);
  }
  const hostEnv = {
    ...process.env,
    PF9_ROOT: config.hostRoot,
    // Through the sockets only the credentials and the vhost of the broker's URL count.
    AMQP_URL: config.amqpUrl,
    PF9_COMMS_SOCKET_DIR: sockets,
    PF9_JOIN_TOKEN: joinToken,
    PF9_AGENT_METRICS_PORT: String(config.agentMetricsPort),
    PF9_COMMS_COMMAND: `exec "${process.execPath}" "${join(distRoot, 'comms/main.js')}"`,
    PF9_COMMS_HEALTH_URL: `http://127.0.0.1:${config.commsAdminPort}/healthz`,
    PF9_COMMS_LISTEN: commsSocketListen(sockets),
    PF9_COMMS_ADMIN: `127.0.0.1:${config.commsAdminPort}`,
    PF9_PLANE_HOST: '127.0.0.1',
    PF9_PLANE_PORT: String(config.ingressPort),
    PF9_PLANE_SERVERNAME: 'localhost',
  };
  // nodelet, as on a host; the pf9-kube role's hooks find nodeletd where a host has it installed.
  await installNodeletd(config.hostRoot);
  const nodelet = startChild('nodelet', 'nodelet/main.js', { ...hostEnv, PF9_NODELET_ADMIN: `127.0.0.1:${config.nodeletAdminPort}` }, logDir);
  say(`nodelet starting (logs: ${nodelet.log})`);
  const host = startChild('hostagent', 'hostagent/main.js', hostEnv, logDir);
  say(`host agent and pf9-comms starting (logs: ${host.log})`);
  const hostId = await waitUntil('the host id', deadline, knownHostId);
  await waitUntil('the first heartbeat', deadline, async () => {
    const res = await fetch(`${api}/v1/hosts/${hostId}`, { headers: asOperator });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { lastHeartbeatAt: string | null };
    return body.lastHeartbeatAt !== null ? true : undefined;
  });
  process.stdout.write(`hostplane ready: api=${api} host=${hostId}\n`);
}

/** `<host>/opt/pf9/hostplane/bin/nodeletd`, where a host has it: this checkout's, with this Node.js. */
async function installNodeletd(hostRoot: string): Promise<void> {
  const launcher = join(hostRoot, 'opt/pf9/hostplane/bin/nodeletd');
  await mkdir(dirname(launcher), { recursive: true });
  await writeFile(launcher, `#!/bin/sh\nexec "${process.execPath}" "${join(distRoot, '..', '..', 'bin', 'nodeletd')}" "$@"\n`);
  await chmod(launcher, 0o755);
}

let config: AllInOneConfig;
try {
  config = loadAllInOneConfig(process.env);
} catch (err) {
  say((err as Error).message);
  process.exit(2);
}
main(config).catch((err: unknown) => {
  if (stopping) return;
  say(err instanceof Error ? err.message : String(err));
  void stop(1);
});
