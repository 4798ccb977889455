import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { buildRole, fileRole, tempDir } from '../support/fixtures';
import { RawAmqp } from '../support/raw-amqp';
import { CuttableProxy } from '../support/tcp-proxy';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

async function json<T>(plane: AuthenticatedPlane, url: string, init?: RequestInit): Promise<T> {
  const res = await planeFetch(plane, url, init);
  return (await res.json()) as T;
}

interface RoleView {
  name: string;
  version: string;
  state: string;
  desiredGeneration: number;
  appliedGeneration: number | null;
  message: string | null;
}

describe('host agent against the role store, over the real broker', () => {
  let rs: RunningRolestore;
  let agent: RunningHostagent | null = null;
  let proxy: CuttableProxy;
  let root: string;
  let raw: RawAmqp;

  const agentEnv = () => {
    const broker = new URL(brokerUrl());
    broker.hostname = '127.0.0.1';
    broker.port = String(proxy.port);
    return {
      AMQP_URL: broker.toString(),
      PF9_API_URL: rs.hostApiUrl,
      PF9_ROOT: root,
      PF9_HEARTBEAT_INTERVAL_S: '1',
      PF9_CONVERGE_INTERVAL_S: '1',
      PF9_AGENT_METRICS_PORT: '0',
      PF9_LOG_LEVEL: 'error',
    };
  };
  const host = (id: string) => json<{ state: string; online: boolean; info: { hostname: string; cpu: { cores: number }; storage: unknown[] } | null; roles: RoleView[] }>(rs, `${rs.url}/v1/hosts/${id}`);
  const role = async (id: string, name: string) => (await host(id)).roles.find((r) => r.name === name);

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    const dataDir = await tempDir('plane');
    root = await tempDir('host');
    // The agent connects straight to the broker on the user it shares with the plane (insecure): no join, no ingress.
    rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
    const broker = new URL(brokerUrl());
    proxy = new CuttableProxy(broker.hostname, Number(broker.port || 5672));
    await proxy.start();
    agent = await startHostagent(agentEnv());
  });

  after(async () => {
    await agent?.close();
    await proxy?.cut();
    await rs?.close();
    await raw?.close();
  });

  test('the host appears unauthorized with the real inventory, then is authorized', async () => {
    const id = agent!.hostId;
    const conf = await readFile(join(root, 'etc/pf9/host_id.conf'), 'utf8');
    assert.match(conf, new RegExp(`host_id = ${id}`));
    const seen = await waitFor('the first heartbeat', async () => {
      const res = await planeFetch(rs, `${rs.url}/v1/hosts/${id}`);
      return res.ok ? host(id) : undefined;
    });
    assert.equal(seen.state, 'unauthorized');
    assert.equal(seen.online, true);
    assert.equal(seen.info?.hostname, hostname());
    assert.ok((seen.info?.cpu.cores ?? 0) >= 1);
    assert.ok((seen.info?.storage.length ?? 0) >= 1);
    await planeFetch(rs, `${rs.url}/v1/hosts/${id}/authorize`, { method: 'POST' });
    await waitFor('the agent to hold generation 1', async () => agent!.runtime.engine.generation === 1);
  });

  test('assign, apply, drift correction, upgrade, and reports held in the outbox while the broker is away', async () => {
    const id = agent!.hostId;
    for (const source of [fileRole('web', '1.0.0'), fileRole('web', '1.1.0', { configure: `sleep 2; mkdir -p "$PF9_ROOT/etc/web"; cat > "$PF9_ROOT/etc/web/config.json"` })]) {
      const res = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(source) });
      assert.equal(res.status, 201);
    }
    const put = await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/web`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: '1.0.0', config: { listen: 80 } }) });
    const assigned = (await put.json()) as { generation: number };
    const applied = await waitFor('web applied', async () => {
      const r = await role(id, 'web');
      return r?.state === 'applied' ? r : undefined;
    });
    assert.equal(applied.appliedGeneration, assigned.generation);
    const configFile = join(root, 'etc/web/config.json');
    assert.deepEqual(JSON.parse(await readFile(configFile, 'utf8')), { listen: 80 });

    // Someone edits the file the role owns: the next check puts it back.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(configFile, JSON.stringify({ listen: 8081 }));
    await waitFor('drift corrected', async () => JSON.parse(await readFile(configFile, 'utf8')).listen === 80, { timeoutMs: 10_000 });
    await waitFor('the plane to hear of it', async () => (await role(id, 'web'))?.message === 'configuration drift corrected');

    // An upgrade whose configure takes a while; the broker goes away in the middle of it.
    await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/web`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: '1.1.0', config: { listen: 80 } }) });
    await waitFor('configuring', async () => (await role(id, 'web'))?.state === 'configuring');
    await proxy.cut();
    const outbox = join(root, 'var/lib/pf9/hostagent/outbox');
    await waitFor('the applied report to wait in the outbox', async () => (await readdir(outbox)).some((f) => /^\d+/.test(f)), { timeoutMs: 10_000 });
    assert.equal((await role(id, 'web'))?.state, 'configuring', 'the plane has not heard yet');
    await proxy.restore();
    const upgraded = await waitFor('the report to arrive after the broker came back', async () => {
      const r = await role(id, 'web');
      return r?.state === 'applied' && r.version === '1.1.0' ? r : undefined;
    }, { timeoutMs: 30_000 });
    assert.match(upgraded.message ?? '', /upgraded from 1.0.0/);
    await waitFor('the outbox to be empty again', async () => (await readdir(outbox)).filter((f) => /^\d+/.test(f)).length === 0);
    const health = await fetch(`${agent!.url}/healthz`);
    assert.equal(health.status, 200, 'the agent reconnected by itself');
    const metrics = await (await fetch(`${agent!.url}/metrics`)).text();
    assert.match(metrics, /hostplane_heartbeats_sent_total\{outcome="sent"\} \d+/);
    assert.match(metrics, /hostplane_corrections_total\{kind="drift"\} [1-9]/);
    assert.match(metrics, /hostplane_hook_runs_total\{hook="configure",outcome="ok"\} \d+/);
  });

  test('an agent that missed changes while it was down catches up by asking for its desired state on start', async () => {
    const id = agent!.hostId;
    await agent!.close();
    agent = null;
    // Lose whatever was pushed while it was away, as if the queue had been deleted.
    await raw.channel.deleteQueue(`pf9.host.${id}`);
    const res = await planeFetch(rs, `${rs.url}/v1/hosts/${id}/roles/web`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    agent = await startHostagent(agentEnv());
    assert.equal(agent.hostId, id, 'the same host id after a restart');
    await waitFor('web removed', async () => (await host(id)).roles.length === 0, { timeoutMs: 20_000 });
    await assert.rejects(readFile(join(root, 'etc/web/config.json')), /ENOENT/);
  });
});
