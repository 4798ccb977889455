import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { connect } from 'node:net';

export function reachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export function brokerAddress(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === '' ? (parsed.protocol === 'amqps:' ? 5671 : 5672) : Number(parsed.port) };
}

const LOCAL_BROKER = ['/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/local/sbin/rabbitmq-server', '/opt/homebrew/sbin/rabbitmq-server'];
const LOCAL_PLUGINS = LOCAL_BROKER.map((path) => path.replace(/rabbitmq-server$/, 'rabbitmq-plugins'));

async function localBrokerCommand(paths: readonly string[] = LOCAL_BROKER): Promise<string | null> {
  for (const path of paths) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

export const NO_BROKER_HELP = [
  'hostplane needs a RabbitMQ broker, and none answers at AMQP_URL.',
  'Start one, then run `npm start` again:',
  '  docker compose up -d rabbitmq            (the compose file in this repository)',
  '  apt-get install rabbitmq-server          (Debian/Ubuntu; brew install rabbitmq on macOS)',
  'or point AMQP_URL at a broker you have.',
].join('\n');

/** Makes sure a broker answers; starts the local rabbitmq-server where one is installed. */
export async function ensureBroker(url: string, startLocal: boolean, say: (line: string) => void): Promise<void> {
  const { host, port } = brokerAddress(url);
  if (await reachable(host, port)) return;
  const command = startLocal && isLoopback(host) ? await localBrokerCommand() : null;
  if (!command) throw new Error(`${NO_BROKER_HELP}\n(AMQP_URL host ${host}, port ${port})`);
  say(`no broker at ${host}:${port}; starting the local rabbitmq-server (${command} -detached)`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, ['-detached'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} -detached exited with ${code}\n${NO_BROKER_HELP}`))));
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the local rabbitmq-server did not start listening on ${host}:${port} within 90 s\n${NO_BROKER_HELP}`);
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

export const NO_MANAGEMENT_HELP = [
  "the broker's management API does not answer, and without it the plane cannot give each host a broker user of its own.",
  'Enable it, then run `npm start` again:',
  '  rabbitmq-plugins enable rabbitmq_management     (on the broker\'s machine; the compose file\'s broker has it)',
  'or accept that every host can act as every other: PF9_INSECURE_SHARED_BROKER_USER=<the broker user of AMQP_URL>.',
].join('\n');

/** What ensureManagementApi does to the world (fakes in unit tests). */
export interface ManagementApiActions {
  answers(): Promise<boolean>;
  /** Runs `rabbitmq-plugins enable rabbitmq_management`; answers what it said, or null when it is not installed here. */
  enablePlugin(): Promise<string | null>;
  sleep(ms: number): Promise<void>;
}

/**
 * RabbitMQ's management API, which the plane needs to give each host its own broker user.
 * When it does not answer and the broker is on this machine (one the all-in-one started or
 * found on loopback), the plugin is enabled and the API waited for. Answers whether it answers.
 */
export async function ensureManagementApi(amqpUrl: string, say: (line: string) => void, actions: ManagementApiActions = systemActions(amqpUrl), waitMs = 60_000): Promise<boolean> {
  if (await actions.answers()) return true;
  if (!isLoopback(brokerAddress(amqpUrl).host)) return false;
  say("the broker's management API does not answer; enabling it (rabbitmq-plugins enable rabbitmq_management)");
  const output = await actions.enablePlugin();
  if (output === null) {
    say('rabbitmq-plugins is not installed here');
    return false;
  }
  for (let waited = 0; waited < waitMs; waited += 500) {
    if (await actions.answers()) return true;
    await actions.sleep(500);
  }
  say(`the management API still does not answer after ${waitMs / 1000} s; rabbitmq-plugins said: ${output.trim().split('\n').slice(-3).join(' / ')}`);
  return false;
}

function systemActions(amqpUrl: string): ManagementApiActions {
  return {
    answers: () => managementApiAnswers(amqpUrl),
    enablePlugin: async () => {
      const command = await localBrokerCommand(LOCAL_PLUGINS);
      if (!command) return null;
      return new Promise<string>((resolve) => {
        let output = '';
        const child = spawn(command, ['enable', 'rabbitmq_management'], { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('error', (err) => resolve(`${output}${err.message}`));
        child.once('exit', (code) => resolve(`${output}(exit ${code})`));
      });
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** Whether RabbitMQ's management API answers with the AMQP_URL's credentials (needed for a broker user per host). */
export async function managementApiAnswers(amqpUrl: string): Promise<boolean> {
  const parsed = new URL(amqpUrl);
  const user = decodeURIComponent(parsed.username || 'guest');
  const pass = decodeURIComponent(parsed.password || 'guest');
  try {
    const res = await fetch(`http://${parsed.hostname}:15672/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  } catch {
    return false;
  }
}
