import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { NodeletEngine, type EngineConfig } from './nodelet.engine';
import type { Phase } from './phase-catalog';
import type { PhaseExecutor, PhaseRunRequest, PhaseRunResult } from './phase-runner';
import type { KubeStatus } from './status-file';

/** Phases that are "up" once started, with scripted failures; every call is recorded as `name op`. */
class FakeNode implements PhaseExecutor {
  readonly ops: string[] = [];
  readonly up = new Set<string>();
  /** name → how many more starts fail (Infinity: always). */
  readonly failStarts = new Map<string, number>();
  /** name → how many more stops fail. */
  readonly failStops = new Map<string, number>();
  /** name → status fails while up (a flaky check), this many more times. */
  readonly failStatus = new Map<string, number>();

  async run(request: PhaseRunRequest): Promise<PhaseRunResult> {
    const { name } = request.phase;
    this.ops.push(`${name} ${request.op}`);
    const result = (ok: boolean): PhaseRunResult => ({ ok, exitCode: ok ? 0 : 1, signal: null, timedOut: false, durationMs: 1, lines: ok ? [] : [`${name} ${request.op} failed`] });
    const take = (map: Map<string, number>): boolean => {
      const left = map.get(name) ?? 0;
      if (left <= 0) return false;
      map.set(name, left - 1);
      return true;
    };
    switch (request.op) {
      case 'start':
        if (take(this.failStarts)) return result(false);
        this.up.add(name);
        return result(true);
      case 'stop':
        if (take(this.failStops)) return result(false);
        this.up.delete(name);
        return result(true);
      case 'status':
        if (this.up.has(name) && take(this.failStatus)) return result(false);
        return result(this.up.has(name));
    }
  }

  take(): string[] {
    return this.ops.splice(0);
  }
}

function phases(...names: Array<[number, string]>): Phase[] {
  return names.map(([order, name]) => ({ order, name, file: `${String(order).padStart(3, '0')}-${name}.sh`, path: `/phases/${String(order).padStart(3, '0')}-${name}.sh`, kind: 'sh', roles: ['master', 'worker'] }));
}

const ABCD = phases([10, 'a'], [20, 'certs'], [30, 'c'], [40, 'd']);

function config(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    role: 'master',
    clusterId: 'c1',
    kubeServiceState: 'true',
    fullRetryCount: 10,
    phaseRetry: 1,
    statusTimeoutS: 5,
    phaseTimeoutS: 5,
    phasesDir: '/phases',
    loopIntervalS: 1,
    ...overrides,
  };
}

function engine(node: FakeNode, written: KubeStatus[] = []): NodeletEngine {
  return new NodeletEngine({
    runner: node,
    persist: async (s) => void written.push(s),
    logger: new Logger('nodelet-test', 'error', { write: () => undefined }),
    cgroup: () => null,
    phaseEnv: () => ({}),
    sleep: async () => undefined,
  });
}

describe('nodelet engine', () => {
  test('a fresh node: status finds nothing running, every phase starts in order, the node is ok', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'a start', 'certs start', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    const s = e.snapshot();
    assert.equal(s.pf9_kube_node_state, 'ok');
    assert.equal(s.pf9_kube_service_state, 'true');
    assert.equal(s.pf9_kube_start_attempt, 0);
    assert.deepEqual(s.completed_tasks, ['a', 'certs', 'c', 'd']);
    assert.deepEqual(
      s.phases.map((p) => [p.order, p.name, p.state, p.attempts]),
      [
        [10, 'a', 'running', 1],
        [20, 'certs', 'running', 1],
        [30, 'c', 'running', 1],
        [40, 'd', 'running', 1],
      ],
    );
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'd status'], 'an up node is only checked');
  });

  test('a phase that fails twice and then succeeds: only it and those after it are redone, in order', async () => {
    const node = new FakeNode();
    const written: KubeStatus[] = [];
    const e = engine(node, written);
    node.failStarts.set('c', 2);
    e.configure(config(), ABCD);

    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'a start', 'certs start', 'c start']);
    let s = e.snapshot();
    assert.equal(s.pf9_kube_node_state, 'retrying');
    assert.equal(s.pf9_kube_start_attempt, 1);
    assert.equal(s.last_failed_task, 'c');
    assert.equal(s.phases[2].state, 'failed');
    assert.match(s.phases[2].message, /c start failed/);
    assert.ok(written.some((w) => w.pf9_kube_node_state === 'converging' && w.current_task === 'c'), 'converging while the first attempt runs');

    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'c stop', 'c start']);
    s = e.snapshot();
    assert.equal(s.pf9_kube_start_attempt, 2);
    assert.equal(s.pf9_kube_node_state, 'retrying');

    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'c stop', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    s = e.snapshot();
    assert.equal(s.pf9_kube_node_state, 'ok');
    assert.equal(s.pf9_kube_start_attempt, 0, 'reset once the node is up');
    assert.deepEqual(s.phases.map((p) => p.attempts), [1, 1, 3, 1]);
  });

  test('a phase that always fails: every FULL_RETRY_COUNT-th attempt stops everything and starts from the first; failed after that, attempts go on', async () => {
    const node = new FakeNode();
    const e = engine(node);
    node.failStarts.set('d', Infinity);
    e.configure(config({ fullRetryCount: 10 }), ABCD);
    const states: string[] = [];
    for (let i = 1; i <= 9; i++) {
      await e.reconcile();
      states.push(e.snapshot().pf9_kube_node_state);
      const ops = node.take();
      if (i > 1) assert.deepEqual(ops, ['a status', 'certs status', 'c status', 'd status', 'd stop', 'd start'], `attempt ${i} redoes only d`);
    }
    assert.deepEqual(states, Array(9).fill('retrying'));
    await e.reconcile();
    assert.equal(e.snapshot().pf9_kube_start_attempt, 10);
    assert.deepEqual(
      node.take(),
      ['a status', 'certs status', 'c status', 'd status', 'd stop', 'c stop', 'a stop', 'a start', 'c start', 'd start'],
      'the 10th attempt stops everything in reverse and starts from the first (the certificates phase passed its check and stays)',
    );
    assert.equal(e.snapshot().pf9_kube_node_state, 'failed');
    await e.reconcile();
    assert.equal(e.snapshot().pf9_kube_start_attempt, 11, 'attempts go on');
    assert.equal(e.snapshot().pf9_kube_node_state, 'failed');
    for (let i = 12; i <= 20; i++) await e.reconcile();
    node.take();
    assert.equal(e.snapshot().pf9_kube_start_attempt, 20);
  });

  test('the certificates phase is redone on a restart when its own status failed', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    node.up.delete('certs');
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'd stop', 'c stop', 'certs stop', 'certs start', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    assert.equal(e.snapshot().pf9_kube_node_state, 'ok');
  });

  test('a component that dies after the node is up: restarted from its phase; those before it are left alone', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    node.up.delete('c');
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'd stop', 'c stop', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    assert.equal(e.snapshot().pf9_kube_node_state, 'ok');
    assert.equal(e.snapshot().last_failed_status_check, 'c');
  });

  test('status and stop are tried PHASE_RETRY times, start once', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config({ phaseRetry: 3 }), ABCD);
    await e.reconcile();
    node.take();
    node.failStatus.set('certs', 2); // flaky: fails twice, passes the third time
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'certs status', 'certs status', 'c status', 'd status']);
    node.up.delete('c');
    node.failStops.set('d', 2);
    node.failStarts.set('c', 1);
    await e.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'c status', 'c status', 'd stop', 'd stop', 'd stop', 'c stop', 'c start']);
  });

  test('restarted nodelet takes up the status it wrote: a healthy node is only checked, an attempt count goes on', async () => {
    const node = new FakeNode();
    const written: KubeStatus[] = [];
    const first = engine(node, written);
    first.configure(config(), ABCD);
    await first.reconcile();
    node.take();

    const second = engine(node);
    second.restore(written.at(-1)!);
    second.configure(config(), ABCD);
    await second.reconcile();
    assert.deepEqual(node.take(), ['a status', 'certs status', 'c status', 'd status'], 'nothing stopped, nothing started');
    assert.equal(second.snapshot().pf9_kube_node_state, 'ok');

    node.failStarts.set('c', Infinity);
    node.up.delete('c');
    await second.reconcile();
    await second.reconcile();
    const saved = second.snapshot();
    assert.equal(saved.pf9_kube_start_attempt, 2);
    const third = engine(node);
    third.restore(saved);
    third.configure(config(), ABCD);
    await third.reconcile();
    assert.equal(third.snapshot().pf9_kube_start_attempt, 3, 'the count survives a restart of nodelet');
    assert.equal(third.snapshot().pf9_kube_node_state, 'retrying');
  });

  test('KUBE_SERVICE_STATE false stops everything in reverse and keeps it stopped; ignore leaves the node as it is', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    e.configure(config({ kubeServiceState: 'false' }), ABCD);
    await e.reconcile();
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'certs stop', 'a stop']);
    assert.equal(e.snapshot().pf9_kube_node_state, 'ok');
    assert.equal(e.snapshot().pf9_kube_service_state, 'false');
    await e.reconcile();
    assert.deepEqual(node.take(), [], 'stopped stays stopped');
    e.configure(config({ kubeServiceState: 'ignore' }), ABCD);
    node.up.add('a');
    await e.reconcile();
    assert.deepEqual(node.take(), []);
  });

  test('a change of role stops what ran, in reverse, before the new phases start', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    const worker = phases([10, 'a'], [30, 'c'], [35, 'w']);
    e.configure(config({ role: 'worker' }), worker);
    await e.reconcile();
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'certs stop', 'a stop', 'a status', 'a start', 'c start', 'w start', 'a status', 'c status', 'w status']);
    assert.equal(e.snapshot().pf9_cluster_role, 'worker');
    assert.deepEqual(e.snapshot().all_tasks, ['a', 'c', 'w']);
  });

  test('phases stop holds the node until phases start; restart keeps the certificates phase unless asked', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    assert.equal((await e.stopPhases(2, false, false)).ok, true);
    assert.deepEqual(node.take(), ['d stop', 'c stop']);
    assert.equal(e.snapshot().nodelet_hold, true);
    await e.reconcile();
    assert.deepEqual(node.take(), [], 'held: the loop starts nothing');
    assert.equal((await e.startPhases(2, false)).ok, true);
    assert.deepEqual(node.take(), ['c start', 'd start']);
    assert.equal(e.snapshot().nodelet_hold, false);
    await e.restartPhases(0, false);
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'a stop', 'a start', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    await e.restartPhases(0, true);
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'certs stop', 'a stop', 'a start', 'certs start', 'c start', 'd start', 'a status', 'certs status', 'c status', 'd status']);
    await e.stopPhases(2, false, true);
    assert.deepEqual(node.take(), ['c stop'], '--single stops that phase alone');
  });

  test('a stop that fails ends the chain unless forced', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    node.failStops.set('c', 1);
    const outcome = await e.stopPhases(0, false, false);
    assert.equal(outcome.ok, false);
    assert.deepEqual(node.take(), ['d stop', 'c stop']);
    node.failStops.set('c', 1);
    assert.equal((await e.stopPhases(0, true, false)).ok, false);
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'certs stop', 'a stop']);
  });

  test('reset stops every phase in reverse, forgets the state and holds until the configuration changes', async () => {
    const node = new FakeNode();
    const e = engine(node);
    e.configure(config(), ABCD);
    await e.reconcile();
    node.take();
    assert.equal((await e.reset()).ok, true);
    assert.deepEqual(node.take(), ['d stop', 'c stop', 'certs stop', 'a stop']);
    assert.equal(e.snapshot().pf9_kube_start_attempt, 0);
    await e.reconcile();
    assert.deepEqual(node.take(), []);
    e.release('config-change');
    await e.reconcile();
    assert.equal(e.snapshot().pf9_kube_node_state, 'ok');
  });
});
