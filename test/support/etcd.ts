import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './processes';
import { waitFor } from './wait';

/** etcd (Debian's etcd-server) on free loopback ports, for one test; never a system service. */
export interface TestEtcd {
  endpoint: string;
  peerUrl: string;
  name: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startEtcd(dataDir: string, name = 'test'): Promise<TestEtcd> {
  const client = await freePort();
  const peer = await freePort();
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const child = spawn(
    'etcd',
    [
      '--name', name,
      '--data-dir', dataDir,
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `${name}=${peerUrl}`,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ],
    // etcd reads ETCD_* variables as flags: none of the test runner's.
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`etcd cannot start (Debian: apt-get install etcd-server etcd-client): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`etcd exited (${code}): ${stderr}`)));
  });
  failed.catch(() => undefined);
  await Promise.race([
    waitFor('etcd healthy', async () => (await fetch(`${endpoint}/health`)).ok || undefined, { timeoutMs: 20_000, intervalMs: 100 }),
    failed,
  ]);
  return {
    endpoint,
    peerUrl,
    name,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export async function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { PATH: process.env.PATH, ETCDCTL_API: '3' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`etcdctl ${args.join(' ')}: ${err}`))));
  });
}
