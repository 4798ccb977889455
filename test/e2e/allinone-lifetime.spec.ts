import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../support/fixtures';
import { DIST, freePort, portFree, Proc, processesUsing } from '../support/processes';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

/**
 * Nothing the all-in-one starts (role store, ingress, host agent, and pf9-comms, which the
 * agent starts) outlives it, whatever stops it: a signal to its process group (a service
 * manager, `timeout`, `kill -- -PGID`), SIGHUP, or SIGKILL of the all-in-one alone. Each
 * test runs its own all-in-one in a directory of its own and looks through /proc for any
 * process that still works there.
 */

const PORT_VARIABLES = [
  'PF9_API_PORT',
  'PF9_AGENT_METRICS_PORT',
  'PF9_JOIN_PORT',
  'PF9_HOST_API_PORT',
  'PF9_INGRESS_PORT',
  'PF9_INGRESS_ADMIN_PORT',
  'PF9_COMMS_ADMIN_PORT',
  'PF9_NODELET_ADMIN_PORT',
] as const;

interface AllInOne {
  proc: Proc;
  cwd: string;
  ports: Record<(typeof PORT_VARIABLES)[number], number>;
}

const started: AllInOne[] = [];

async function environment(): Promise<{ env: NodeJS.ProcessEnv; ports: AllInOne['ports'] }> {
  const ports = {} as AllInOne['ports'];
  for (const name of PORT_VARIABLES) ports[name] = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, AMQP_URL: brokerUrl(), PF9_HEARTBEAT_INTERVAL_S: '1', PF9_START_LOCAL_BROKER: '0' };
  for (const name of PORT_VARIABLES) env[name] = String(ports[name]);
  delete env.DATABASE_URL; // SQLite under .data/plane
  return { env, ports };
}

/** An all-in-one in a fresh directory, the leader of a process group of its own, once ready. */
async function startAllInOne(): Promise<AllInOne> {
  const cwd = await tempDir('lifetime');
  const { env, ports } = await environment();
  const proc = new Proc(join(DIST, 'services/allinone/main.js'), env, cwd, { detached: true });
  const allInOne = { proc, cwd, ports };
  started.push(allInOne);
  await proc.line(/^hostplane ready: /m, 90_000);
  assert.ok(processesUsing(cwd).some((p) => /comms\/main\.js/.test(p.cmdline)), 'pf9-comms runs');
  return allInOne;
}

async function assertNothingOutlives(allInOne: AllInOne): Promise<void> {
  await waitFor('every process of the all-in-one to be gone', () => processesUsing(allInOne.cwd).length === 0, { timeoutMs: 30_000 }).catch((err: unknown) => {
    throw new Error(`${String(err)}: still running: ${JSON.stringify(processesUsing(allInOne.cwd))}`);
  });
  for (const [name, port] of Object.entries(allInOne.ports)) assert.ok(await portFree(port), `${name} ${port} is free again`);
}

describe('npm start: nothing it starts outlives it', () => {
  after(() => {
    // Whatever a failed test left behind goes, so that the next tests are not disturbed.
    for (const { cwd } of started) for (const { pid } of processesUsing(cwd)) process.kill(pid, 'SIGKILL');
  });

  test('SIGTERM to its process group (a service manager, `timeout`, kill -- -PGID)', async () => {
    const allInOne = await startAllInOne();
    process.kill(-allInOne.proc.child.pid!, 'SIGTERM');
    await allInOne.proc.exit(30_000);
    await assertNothingOutlives(allInOne);
  });

  test('SIGKILL of the all-in-one alone: its children notice and stop', async () => {
    const allInOne = await startAllInOne();
    allInOne.proc.kill('SIGKILL');
    await assertNothingOutlives(allInOne);
  });

  test('SIGKILL to its whole process group', async () => {
    const allInOne = await startAllInOne();
    process.kill(-allInOne.proc.child.pid!, 'SIGKILL');
    await assertNothingOutlives(allInOne);
  });

  test('SIGHUP (its terminal closed) stops everything', async () => {
    const allInOne = await startAllInOne();
    allInOne.proc.kill('SIGHUP');
    await allInOne.proc.exit(30_000);
    await assertNothingOutlives(allInOne);
  });

  test('a port it needs held by another process (a pf9-comms left by an older version): it says which and starts nothing', async () => {
    const cwd = await tempDir('lifetime');
    const { env, ports } = await environment();
    // What an orphaned comms looks like from outside: its health endpoint answers.
    const orphan = createHttpServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => orphan.listen(ports.PF9_COMMS_ADMIN_PORT, '127.0.0.1', resolve));
    after(() => orphan.close());
    const proc = new Proc(join(DIST, 'services/allinone/main.js'), env, cwd, { detached: true });
    started.push({ proc, cwd, ports });
    const code = await proc.exit(30_000);
    assert.notEqual(code, 0);
    assert.match(proc.stderr, new RegExp(`127\\.0\\.0\\.1:${ports.PF9_COMMS_ADMIN_PORT} \\(PF9_COMMS_ADMIN_PORT\\) is in use by pid ${process.pid} \\(`));
    assert.equal(proc.stdout, '', 'never ready');
    assert.deepEqual(processesUsing(cwd), []);
    assert.equal((orphan.address() as AddressInfo).port, ports.PF9_COMMS_ADMIN_PORT, 'the other process is left alone');
  });
});
