import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../cli/cli';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { buildRole, fileRole, tempDir } from '../support/fixtures';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

interface RoleView {
  name: string;
  state: string;
  failures: number;
  message: string | null;
}

/** A role whose configure fails until `$PF9_ROOT/<marker>` exists. */
function flakyRole(name: string, marker: string) {
  return fileRole(name, '1.0.0', {
    configure: `test -f "$PF9_ROOT/${marker}" || { echo "waiting for ${marker}" >&2; exit 4; }; mkdir -p "$PF9_ROOT/etc/${name}"; cat > "$PF9_ROOT/etc/${name}/config.json"`,
  });
}

async function hostplane(argv: string[], plane: AuthenticatedPlane): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (c: string) => void (stdout += c) }, stderr: { write: (c: string) => void (stderr += c) }, env: { HOSTPLANE_API: plane.url, HOSTPLANE_TOKEN: plane.adminToken ?? '' }, cwd: process.cwd() });
  return { code, stdout, stderr };
}

describe('a role whose hook fails is tried again, counted, and retried on demand', () => {
  let rs: RunningRolestore;
  let agent: RunningHostagent | null = null;
  let root: string;
  let raw: RawAmqp;
  const suffix = randomUUID().slice(0, 8);
  const agentEnv = (retryInitialS: number, convergeS: number) => ({
    AMQP_URL: brokerUrl(),
    PF9_API_URL: rs.hostApiUrl,
    PF9_ROOT: root,
    PF9_HEARTBEAT_INTERVAL_S: '1',
    PF9_CONVERGE_INTERVAL_S: String(convergeS),
    PF9_ROLE_RETRY_INITIAL_S: String(retryInitialS),
    PF9_AGENT_METRICS_PORT: '0',
    PF9_LOG_LEVEL: 'error',
  });
  const role = async (name: string): Promise<RoleView | undefined> => {
    const res = await planeFetch(rs, `${rs.url}/v1/hosts/${agent!.hostId}`);
    return res.ok ? ((await res.json()) as { roles: RoleView[] }).roles.find((r) => r.name === name) : undefined;
  };
  const assign = async (name: string) => {
    const upload = await planeFetch(rs, `${rs.url}/v1/roles`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: await buildRole(flakyRole(name, `${name}.ok`)) });
    assert.equal(upload.status, 201);
    const put = await planeFetch(rs, `${rs.url}/v1/hosts/${agent!.hostId}/roles/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"config":{"a":1}}' });
    assert.equal(put.status, 200);
  };

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    root = await tempDir('retry-host');
    rs = await startRolestore({ AMQP_URL: brokerUrl(), PF9_DATA_DIR: await tempDir('retry-plane'), PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' }, { waitForBrokerMs: 15_000 });
    // Tries again after 1 s, 2 s, 4 s, 4 s …: the converge interval caps the backoff.
    agent = await startHostagent(agentEnv(1, 4));
    await waitFor('the host', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${agent!.hostId}`)).ok);
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${agent.hostId}/authorize`, { method: 'POST' })).status, 200);
  });

  after(async () => {
    await agent?.close();
    await rs?.close();
    await raw?.close();
  });

  test('tried again with backoff: the failures in a row rise in the plane and in `hostplane hosts show`, and reset once it applies', async () => {
    const name = `flaky-${suffix}`;
    await assign(name);
    const seen = new Set<number>();
    await waitFor('three failures in a row', async () => {
      const view = await role(name);
      if (view?.state === 'failed') seen.add(view.failures);
      return view !== undefined && view.failures >= 3;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assert.ok(seen.size >= 2, `the count rises while the plane watches: ${[...seen].join(', ')}`);
    assert.match((await role(name))?.message ?? '', /hook configure failed \(exit 4\)/);
    const shown = await hostplane(['hosts', 'show', agent!.hostId], rs);
    assert.equal(shown.code, 0, shown.stderr);
    const header = shown.stdout.split('\n').find((l) => l.startsWith('NAME'));
    const row = shown.stdout.split('\n').find((l) => l.startsWith(name));
    assert.ok(header && row, shown.stdout);
    const column = header.indexOf('FAILURES');
    assert.ok(column > 0);
    assert.ok(Number(row.slice(column).split(/\s+/)[0]) >= 3, `hosts show: ${row}`);

    await writeFile(join(root, `${name}.ok`), '');
    const applied = await waitFor('applied at the next attempt', async () => {
      const view = await role(name);
      return view?.state === 'applied' ? view : undefined;
    }, { timeoutMs: 15_000 });
    assert.equal(applied.failures, 0, 'the count goes back to 0');
  });

  test('`hostplane role retry` asks for an attempt now, long before the next backoff', async () => {
    await agent!.close();
    // The first attempt after a failure comes in 60 s, the next check in 120 s.
    agent = await startHostagent(agentEnv(60, 120));
    const name = `stuck-${suffix}`;
    await assign(name);
    await waitFor('the first failure', async () => (await role(name))?.failures === 1, { timeoutMs: 20_000 });
    await writeFile(join(root, `${name}.ok`), '');
    const asked = Date.now();
    const retried = await hostplane(['role', 'retry', agent!.hostId, name], rs);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`host ${agent!.hostId} asked to try role ${name} again now`));
    const applied = await waitFor('applied', async () => {
      const view = await role(name);
      return view?.state === 'applied' ? view : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(applied.failures, 0);
    assert.ok(Date.now() - asked < 40_000, 'well before the backoff would have tried');

    const unknown = await hostplane(['role', 'retry', agent!.hostId, 'not-assigned'], rs);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /NOT_FOUND: role not-assigned is not assigned/);
  });
});
