import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { NodeletWorld } from '../support/nodelet-fixtures';
import { waitFor } from '../support/wait';

// bin/nodeletd: through the daemon while it runs, on its own (holding the control socket)
// while none does; never behind the daemon's back.

const worlds: NodeletWorld[] = [];
async function world(): Promise<NodeletWorld> {
  const w = await NodeletWorld.create([[10, 'alpha'], [20, 'certs'], [30, 'gamma'], [40, 'delta']], 'nodeletd');
  worlds.push(w);
  return w;
}

afterEach(async () => {
  for (const w of worlds.splice(0)) await w.stopAll();
});

async function loops(w: NodeletWorld): Promise<number> {
  const state = await w.cli(['state', '--json']);
  return (JSON.parse(state.stdout) as { loops: number }).loops;
}

describe('nodeletd phases, through the daemon', () => {
  test('list and status: 1-based numbers in the listed order; status runs every check and answers by its exit code', async () => {
    const w = await world();
    await w.config(w.baseConfig());
    w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    const list = await w.cli(['phases', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^#\s+ORDER\s+NAME\s+FILE\n1\s+10\s+alpha\s+010-alpha\.sh\n2\s+20\s+certs\s+020-certs\.sh\n3\s+30\s+gamma/);
    await w.clearOps();
    const status = await w.cli(['phases', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Node state: ok\s+service: running\s+role: master\s+cluster: c1\s+attempt: 0/);
    assert.match(status.stdout, /4\s+40\s+delta\s+running\s+1/);
    assert.match(status.stdout, /Platform9 Kubernetes stack is running\n$/);
    assert.deepEqual(w.ops().slice(0, 4), ['alpha status', 'certs status', 'gamma status', 'delta status']);
    await w.unset('gamma', 'up');
    const down = await w.cli(['phases', 'status', '--json']);
    assert.equal(down.code, 1);
    assert.equal((JSON.parse(down.stdout) as { result: { running: boolean } }).result.running, false);
  });

  test('stop --till-phase holds the node (the loop starts nothing); start --from-phase resumes; restart keeps the certificates phase unless --regen-certs; --single acts on one phase', async () => {
    const w = await world();
    await w.config(w.baseConfig());
    w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    await w.clearOps();

    const stop = await w.cli(['phases', 'stop', '--till-phase', '3']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(w.ops(), ['delta stop', 'gamma stop']);
    assert.match(stop.stdout, /held: run phases start to resume/);
    const since = await loops(w);
    await waitFor('two more loops', async () => (await loops(w)) >= since + 2, { timeoutMs: 10_000 });
    assert.deepEqual(w.ops(), ['delta stop', 'gamma stop'], 'held: nothing started');
    assert.equal((await w.status())?.nodelet_hold, true);

    await w.clearOps();
    const start = await w.cli(['phases', 'start', '--from-phase=3']);
    assert.equal(start.code, 0, start.stderr);
    assert.deepEqual(w.ops().filter((o) => !o.endsWith('status')), ['gamma start', 'delta start']);
    await w.waitStatus('released and ok', (s) => s.nodelet_hold === false && s.pf9_kube_node_state === 'ok');

    await w.clearOps();
    assert.equal((await w.cli(['phases', 'restart'])).code, 0);
    assert.deepEqual(w.ops().filter((o) => !o.endsWith('status')), ['delta stop', 'gamma stop', 'alpha stop', 'alpha start', 'gamma start', 'delta start']);
    await w.clearOps();
    assert.equal((await w.cli(['phases', 'restart', '--regen-certs', '--from-phase', '2'])).code, 0);
    assert.deepEqual(w.ops().filter((o) => !o.endsWith('status')), ['delta stop', 'gamma stop', 'certs stop', 'certs start', 'gamma start', 'delta start']);

    await w.clearOps();
    assert.equal((await w.cli(['phases', 'stop', '--single', '--till-phase', '2'])).code, 0);
    assert.equal((await w.cli(['phases', 'start', '--single', '--from-phase', '2'])).code, 0);
    assert.deepEqual(w.ops(), ['certs stop', 'certs start']);
  });

  test('a stop that fails ends there unless --force; bad numbers and options are refused', async () => {
    const w = await world();
    await w.config(w.baseConfig());
    w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    const range = await w.cli(['phases', 'start', '--from-phase', '9']);
    assert.equal(range.code, 1);
    assert.match(range.stderr, /phase number 9: expected 0 \(all\) to 4/);
    const single = await w.cli(['phases', 'stop', '--single']);
    assert.equal(single.code, 1);
    assert.match(single.stderr, /--single needs a phase number/);
    const unknown = await w.cli(['phases', 'stop', '--bogus']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --bogus/);
    const word = await w.cli(['phases', 'start', '--from-phase', 'two']);
    assert.equal(word.code, 2);
  });
});

describe('nodeletd phases, with no daemon', () => {
  test('the command runs the phases itself, holding the control socket; a daemon that starts meanwhile waits for it', async () => {
    const w = await world();
    await w.config(w.baseConfig());
    await w.set('delta', 'slow', '2');
    const command = w.cli(['phases', 'start']);
    await waitFor('the command at work', () => w.ops().includes('alpha start'));
    const daemon = w.start();
    await waitFor('the daemon waiting', () => /a nodeletd command holds the node; waiting/.test(daemon.stdout));
    const done = await command;
    assert.equal(done.code, 0, done.stderr);
    await waitFor('the daemon started', () => /nodelet started/.test(daemon.stdout));
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    assert.equal(w.ops().filter((o) => o === 'delta start').length, 1, 'the daemon found the node up and started nothing again');
  });

  test('state: the node state from the status file; exit 0 only when ok', async () => {
    const w = await world();
    await w.config(w.baseConfig());
    const none = await w.cli(['state']);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /^none \(nodelet is not running\)/);
    assert.equal((await w.cli(['phases', 'start'])).code, 0);
    const ok = await w.cli(['state']);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^ok/);
    await w.unset('gamma', 'up');
    await w.set('gamma', 'fail-start', 'always');
    assert.equal((await w.cli(['phases', 'restart', '--from-phase', '3'])).code, 1);
    const bad = await w.cli(['state']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^converging/);
  });
});

describe('nodeletd config and reset (what the pf9-kube role runs)', () => {
  test('config apply checks the whole configuration with the new file before writing it, and the daemon applies it at once; config get reads it back as JSON', async () => {
    const w = await world();
    const proc = w.start();
    await waitFor('nodelet started', () => /nodelet started/.test(proc.stdout));
    const bad = await w.cli(['config', 'apply', '--file', '10-role.yaml'], JSON.stringify({ ROLE: 'master', MASTER_VIP_VROUTER_ID: 300 }));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refused, nothing written: .*10-role\.yaml: MASTER_VIP_VROUTER_ID: expected an integer from 1 to 255 \(VRRP virtual_router_id\), got 300/);
    assert.equal(existsSync(join(w.root, 'etc/pf9/nodelet/10-role.yaml')), false);

    const config = { ...w.baseConfig({ LOOP_INTERVAL: 3600 }), KUBE_SERVICE_STATE: 'true', CLUSTER_ID: 'c9' };
    const good = await w.cli(['config', 'apply', '--file', '10-role.yaml'], JSON.stringify(config));
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /nodelet applied it/);
    const file = await readFile(join(w.root, 'etc/pf9/nodelet/10-role.yaml'), 'utf8');
    assert.match(file, /^# Written by the pf9-kube role/);
    assert.deepEqual(parse(file), config);
    const ready = await w.cli(['wait-ready', '--timeout', '20']);
    assert.equal(ready.code, 0, ready.stderr);
    assert.equal(ready.stdout.trim(), 'ok');
    assert.equal((await w.status())?.pf9_cluster_id, 'c9', 'applied without waiting for LOOP_INTERVAL');
    const got = await w.cli(['config', 'get', '--file', '10-role.yaml']);
    assert.deepEqual(JSON.parse(got.stdout), config);
    await writeFile(join(w.root, 'etc/pf9/nodelet/10-role.yaml'), 'ROLE: [broken\n');
    assert.equal((await w.cli(['config', 'get', '--file', '10-role.yaml'])).stdout.trim(), 'null');
  });

  test('reset stops every phase in reverse and removes nodelet\'s state; the daemon waits for a new configuration', async () => {
    const w = await world();
    await w.config(w.baseConfig({ MASTER_VIP_ENABLED: true, MASTER_VIP_IFACE: 'eth9', MASTER_VIP_VROUTER_ID: 7, MASTER_IP: '198.51.100.7' }), '10-role.yaml');
    w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    assert.equal(existsSync(join(w.root, 'var/opt/pf9/nodelet/cluster.key')), true);
    await w.clearOps();
    const reset = await w.cli(['reset']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.deepEqual(w.ops(), ['delta stop', 'gamma stop', 'certs stop', 'alpha stop']);
    for (const gone of ['var/opt/pf9/kube_status', 'etc/pf9/kube.env', 'var/opt/pf9/nodelet/cluster.key']) assert.equal(existsSync(join(w.root, gone)), false, `${gone} removed`);
    const since = await loops(w);
    await waitFor('two more loops', async () => (await loops(w)) >= since + 2, { timeoutMs: 10_000 });
    assert.deepEqual(w.ops(), ['delta stop', 'gamma stop', 'certs stop', 'alpha stop'], 'nothing started again');
    assert.equal(existsSync(join(w.root, 'var/opt/pf9/kube_status')), false, 'and nothing written');
  });
});
