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

async function localBrokerCommand(): Promise<string | null> {
  for (const path of LOCAL_BROKER) {
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
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  const command = startLocal && loopback ? await localBrokerCommand() : null;
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
