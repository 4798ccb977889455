import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadAllInOneConfig, type AllInOneConfig } from './allinone.config';
import { ensureBroker } from './broker-check';

/**
 * `npm start`: the plane (role store) and one host (host agent) on this machine, as
 * child processes, each logging JSON lines to a file. It prints one line on standard
 * output once the host has sent its first heartbeat, and stops everything on Ctrl-C.
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

const children: Child[] = [];
let stopping = false;

function startChild(name: string, script: string, env: NodeJS.ProcessEnv, logDir: string): Child {
  const log = join(logDir, `${name}.log`);
  const out = createWriteStream(log, { flags: 'a' });
  const child = spawn(process.execPath, [join(distRoot, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  await ensureBroker(config.amqpUrl, config.startLocalBroker, say);
  const logDir = resolve(config.dataDir, '..', 'logs');
  await mkdir(logDir, { recursive: true });
  await mkdir(config.hostRoot, { recursive: true });
  const api = `http://127.0.0.1:${config.apiPort}`;
  const env = { ...process.env, AMQP_URL: config.amqpUrl, PF9_DATA_DIR: config.dataDir, PF9_API_PORT: String(config.apiPort) };
  const deadline = Date.now() + config.readyTimeoutMs;

  const plane = startChild('rolestore', 'rolestore/main.js', env, logDir);
  say(`role store starting (logs: ${plane.log})`);
  await waitUntil('the role store to be healthy', deadline, async () => ((await fetch(`${api}/healthz`)).ok ? true : undefined));

  const host = startChild('hostagent', 'hostagent/main.js', { ...env, PF9_ROOT: config.hostRoot, PF9_API_URL: api }, logDir);
  say(`host agent starting (logs: ${host.log})`);
  const hostIdFile = join(config.hostRoot, 'etc/pf9/host_id.conf');
  const hostId = await waitUntil('the host id', deadline, async () => /host_id\s*=\s*(\S+)/.exec(await readFile(hostIdFile, 'utf8'))?.[1]);
  await waitUntil('the first heartbeat', deadline, async () => {
    const res = await fetch(`${api}/v1/hosts/${hostId}`);
    if (!res.ok) return undefined;
    const body = (await res.json()) as { lastHeartbeatAt: string | null };
    return body.lastHeartbeatAt !== null ? true : undefined;
  });
  process.stdout.write(`hostplane ready: api=${api} host=${hostId}\n`);
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
