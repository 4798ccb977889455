import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { PlaneReachability, type PlaneState } from './plane-reachability';

const quiet = new Logger('test', 'error', { write: () => undefined });

function states(): { seen: PlaneState[]; next: (state: PlaneState) => Promise<void>; onChange: (s: PlaneState) => void } {
  const seen: PlaneState[] = [];
  const waiters: Array<{ state: PlaneState; resolve: () => void }> = [];
  return {
    seen,
    onChange: (s) => {
      seen.push(s);
      for (const w of waiters.filter((w) => w.state === s)) w.resolve();
    },
    next: (state) => new Promise<void>((resolve) => waiters.push({ state, resolve })),
  };
}

describe('PlaneReachability', () => {
  test('probes at start, backs off while the plane does not answer, and recovers', { timeout: 5_000 }, async () => {
    let calls = 0;
    const probe = async (): Promise<void> => {
      calls += 1;
      if (calls < 4) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const s = states();
    const reachability = new PlaneReachability(probe, { initialMs: 1, maxMs: 20, factor: 2 }, quiet, s.onChange);
    const reachable = s.next('reachable');
    reachability.start();
    await reachable;
    assert.equal(calls, 4, 'probed until the plane answered');
    assert.deepEqual(s.seen, ['unreachable', 'reachable']);
    reachability.close();
  });

  test('a failed connection makes the plane unreachable once; a success makes it reachable', { timeout: 5_000 }, async () => {
    let answer = false;
    let calls = 0;
    const probe = async (): Promise<void> => {
      calls += 1;
      if (!answer) throw new Error('no');
    };
    const s = states();
    const reachability = new PlaneReachability(probe, { initialMs: 1, maxMs: 5, factor: 2 }, quiet, s.onChange);
    reachability.markReachable();
    reachability.markUnreachable(new Error('refused'));
    reachability.markUnreachable(new Error('refused again'));
    assert.equal(reachability.state, 'unreachable');
    const back = s.next('reachable');
    // Let it probe a few times, then answer.
    while (calls < 3) await new Promise((resolve) => setImmediate(resolve));
    answer = true;
    await back;
    assert.deepEqual(s.seen, ['reachable', 'unreachable', 'reachable']);
    reachability.close();
  });

  test('close stops the probing', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let calls = 0;
    const reachability = new PlaneReachability(
      async () => {
        calls += 1;
        throw new Error('no');
      },
      { initialMs: 100, maxMs: 100, factor: 1 },
      quiet,
    );
    reachability.markUnreachable(new Error('no'));
    t.mock.timers.tick(100);
    assert.equal(calls, 1, 'the backoff timer probed');
    reachability.close();
    t.mock.timers.runAll();
    assert.equal(calls, 1, 'no probe after close');
  });
});
