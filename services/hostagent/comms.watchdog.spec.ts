import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Logger } from '#logging';
import { CommsWatchdog } from './comms.watchdog';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

describe('CommsWatchdog', () => {
  const watchdogs: CommsWatchdog[] = [];
  after(async () => {
    for (const w of watchdogs) await w.stop();
  });

  async function start(): Promise<{ watchdog: CommsWatchdog; port: number }> {
    const port = await freePort();
    // A stand-in for pf9-comms: answers its health check while it runs.
    const command = `exec "${process.execPath}" -e "require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')"`;
    const watchdog = new CommsWatchdog(
      { command, healthUrl: `http://127.0.0.1:${port}/healthz`, checkIntervalMs: 500, failuresBeforeRestart: 3, env: process.env },
      new Logger('test', 'error'),
    );
    watchdogs.push(watchdog);
    await watchdog.start();
    await watchdog.healthy(10_000);
    return { watchdog, port };
  }

  test('starts comms and reports it running', async () => {
    const { watchdog } = await start();
    await until('running', () => watchdog.status().state === 'running', 5000);
    assert.equal(watchdog.status().restarts, 0);
  });

  test('comms killed: started again within 10 s', async () => {
    const { watchdog } = await start();
    const pid = watchdog.pid();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    const took = await until('a restart', async () => watchdog.status().restarts === 1 && watchdog.pid() !== pid, 10_000);
    await watchdog.healthy(5000);
    assert.ok(took < 10_000);
    assert.match(watchdog.status().lastRestartReason ?? '', /exited/);
  });

  test('comms hung (stopped, no answer): killed and started again within 10 s', async () => {
    const { watchdog } = await start();
    const pid = watchdog.pid();
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    await until('a restart', async () => watchdog.status().restarts === 1, 10_000);
    await watchdog.healthy(5000);
    assert.match(watchdog.status().lastRestartReason ?? '', /no answer to 3 health checks/);
    await until('the hung one to be gone', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 5000);
  });
});
