import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { provisionService, type ProvisionProbes, type ServiceNeed } from './support/service-provisioning';

/**
 * `npm test`: finds the broker and PostgreSQL the tests need (AMQP_URL and DATABASE_URL
 * when set; otherwise what answers at the usual local ports; otherwise containers started
 * with Testcontainers where Docker runs: support/service-provisioning.ts), then runs every
 * compiled spec with node's test runner. Where none can be had, it stops with a message
 * that says so: nothing is skipped.
 */
const root = resolve(__dirname, '..', '..');
const dist = join(root, 'dist');

async function main(): Promise<number> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const broker = await provisionService(brokerNeed(), probes);
    if (broker.stop) stops.push(broker.stop);
    const postgres = await provisionService(postgresNeed(), probes);
    if (postgres.stop) stops.push(postgres.stop);
    const files = specFiles(process.argv.slice(2));
    if (files.length === 0) {
      process.stderr.write('no test files matched\n');
      return 1;
    }
    process.stdout.write(`broker: ${redact(broker.url)}\npostgres: ${redact(postgres.url)}\n${files.length} test files\n`);
    return await runNodeTest(files, { ...process.env, AMQP_URL: broker.url, DATABASE_URL: postgres.url });
  } catch (err) {
    process.stderr.write(`\ntests cannot run: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

const probes: ProvisionProbes = { reachable, dockerRuns };

function brokerNeed(): ServiceNeed {
  return {
    name: 'RabbitMQ broker',
    variable: 'AMQP_URL',
    fromEnv: process.env.AMQP_URL || undefined,
    defaultPort: 5672,
    localUrl: 'amqp://guest:guest@127.0.0.1:5672',
    async startContainer() {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      const container = await new RabbitMQContainer('rabbitmq:3.13-management').start();
      // The management API (per-host broker users) is mapped to another port than 15672.
      process.env.PF9_BROKER_MANAGEMENT_URL ??= `http://guest:guest@${container.getHost()}:${container.getMappedPort(15672)}`;
      return { url: container.getAmqpUrl(), stop: async () => void (await container.stop()) };
    },
    remedy: "Set AMQP_URL, or run a broker locally (docker compose up -d rabbitmq, or your distribution's rabbitmq-server package).",
  };
}

function postgresNeed(): ServiceNeed {
  const fromEnv = process.env.DATABASE_URL;
  return {
    name: 'PostgreSQL',
    variable: 'DATABASE_URL',
    // A sqlite: DATABASE_URL is the role store's, not a database for the tests.
    fromEnv: fromEnv && /^postgres(ql)?:\/\//.test(fromEnv) ? fromEnv : undefined,
    defaultPort: 5432,
    localUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
    async startContainer() {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:16').start();
      return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
    },
    remedy: 'The role store is tested on both SQLite and PostgreSQL: set DATABASE_URL=postgres://…, or run PostgreSQL locally (docker compose up -d postgres).',
  };
}

function dockerRuns(): boolean {
  const result = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000, stdio: 'ignore' });
  return result.status === 0;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolveReachable) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => (socket.destroy(), resolveReachable(true)));
    socket.once('timeout', () => (socket.destroy(), resolveReachable(false)));
    socket.once('error', () => resolveReachable(false));
  });
}

/** Unit specs (beside the code) first, then test/integration, then test/e2e. */
function specFiles(filters: string[]): string[] {
  const all = walk(dist).filter((file) => file.endsWith('.spec.js'));
  const tier = (file: string): number => (file.includes('/test/e2e/') ? 2 : file.includes('/test/integration/') ? 1 : 0);
  return all
    .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
    .sort((a, b) => tier(a) - tier(b) || a.localeCompare(b));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

function runNodeTest(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // One file at a time: the integration tests share one broker and its named queues.
  // A test or hook that hangs fails after ten minutes rather than holding the run; a file
  // whose tests are done exits then, even if a handle is left open (such a leak is the
  // subject of its own tests, as the tunnel's sockets are in socket-splice.spec).
  const args = ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-timeout=600000', '--test-force-exit', ...files.map((f) => relative(root, f))];
  return new Promise((resolveCode) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolveCode(code ?? (signal ? 1 : 0)));
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

void main().then((code) => process.exit(code));
