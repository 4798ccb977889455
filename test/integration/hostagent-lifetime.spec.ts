import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../support/fixtures';
import { DIST, freePort, portFree, Proc, processesUsing } from '../support/processes';
import { waitFor } from '../support/wait';

/**
 * The host agent starts pf9-comms in a session of its own (so that it can kill what the
 * command started, whole): no signal to the agent's process group reaches it. Whatever stops
 * the agent, comms must stop with it.
 */
describe('host agent: pf9-comms does not outlive it', () => {
  const roots: string[] = [];
  after(() => {
    for (const root of roots) for (const { pid } of processesUsing(root)) process.kill(pid, 'SIGKILL');
  });

  /** An agent (no plane, no broker: neither is needed to start) running a real pf9-comms. */
  async function startAgent(): Promise<{ agent: Proc; root: string; commsPid: number; commsAdmin: number }> {
    const root = await tempDir('agent-lifetime');
    roots.push(root);
    const commsAdmin = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      PF9_ROOT: root,
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}`,
      PF9_AGENT_METRICS_PORT: String(await freePort()),
      PF9_COMMS_COMMAND: `exec "${process.execPath}" "${join(DIST, 'services/comms/main.js')}"`,
      PF9_COMMS_HEALTH_URL: `http://127.0.0.1:${commsAdmin}/healthz`,
      PF9_COMMS_ADMIN: `127.0.0.1:${commsAdmin}`,
      PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0,http=127.0.0.1:0,join=127.0.0.1:0',
      PF9_PLANE_HOST: '127.0.0.1',
      PF9_PLANE_PORT: String(await freePort()),
    };
    const agent = new Proc(join(DIST, 'services/hostagent/main.js'), env, root, { detached: true });
    const comms = await waitFor('pf9-comms started by the agent and healthy', async () => {
      const found = processesUsing(root).find((p) => /comms\/main\.js/.test(p.cmdline));
      return found !== undefined && (await fetch(`http://127.0.0.1:${commsAdmin}/healthz`)).ok ? found : undefined;
    }, { timeoutMs: 30_000 });
    return { agent, root, commsPid: comms.pid, commsAdmin };
  }

  async function assertCommsGone(root: string, commsAdmin: number): Promise<void> {
    await waitFor('the agent and pf9-comms to be gone', () => processesUsing(root).length === 0, { timeoutMs: 30_000 }).catch((err: unknown) => {
      throw new Error(`${String(err)}: still running: ${JSON.stringify(processesUsing(root))}`);
    });
    assert.ok(await portFree(commsAdmin), 'the comms admin port is free again');
  }

  test('SIGKILL of the agent', async () => {
    const { agent, root, commsAdmin } = await startAgent();
    agent.kill('SIGKILL');
    await assertCommsGone(root, commsAdmin);
  });

  test('SIGTERM to its process group, twice in a row (a service manager that insists)', async () => {
    const { agent, root, commsAdmin } = await startAgent();
    process.kill(-agent.child.pid!, 'SIGTERM');
    process.kill(-agent.child.pid!, 'SIGTERM');
    await assertCommsGone(root, commsAdmin);
  });

  test('SIGINT to the agent alone stops comms in order', async () => {
    const { agent, root, commsAdmin, commsPid } = await startAgent();
    agent.kill('SIGINT');
    await agent.exit(20_000);
    await assertCommsGone(root, commsAdmin);
    assert.throws(() => process.kill(commsPid, 0), /ESRCH/);
  });
});
