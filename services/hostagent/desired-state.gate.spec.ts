import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostDesiredStateControl } from '#contracts';
import { DesiredStateGate } from './desired-state.gate';

const state = (generation: number, inReplyTo?: string): HostDesiredStateControl => ({ hostId: 'h1', state: 'authorized', generation, roles: [], ...(inReplyTo ? { inReplyTo } : {}) });

describe('DesiredStateGate', () => {
  test("acts on the plane's broker user's messages only: none without a user_id, none from another user", () => {
    const gate = new DesiredStateGate(() => 'plane');
    assert.deepEqual(gate.judge(state(1), 'plane', 0), { take: true, authoritative: false });
    assert.deepEqual(gate.judge(state(2), undefined, 1), { take: false, reason: 'forbidden' });
    assert.deepEqual(gate.judge(state(2), 'pf9-host-h2', 1), { take: false, reason: 'forbidden' });
    assert.deepEqual(gate.judge(state(2, gate.ask()), 'operator', 1), { take: false, reason: 'forbidden' }, 'even as the answer to its own request');
    assert.deepEqual(new DesiredStateGate(() => undefined).judge(state(1), 'plane', 0), { take: false, reason: 'forbidden' }, 'nothing while the plane user is unknown');
  });

  test('an unasked desired state is taken when it is the next generation; one further ahead waits for the plane to confirm it', () => {
    const gate = new DesiredStateGate(() => 'plane');
    assert.deepEqual(gate.judge(state(5), 'plane', 5), { take: false, reason: 'stale' });
    assert.deepEqual(gate.judge(state(4), 'plane', 5), { take: false, reason: 'stale' });
    assert.deepEqual(gate.judge(state(6), 'plane', 5), { take: true, authoritative: false });
    assert.deepEqual(gate.judge(state(Number.MAX_SAFE_INTEGER), 'plane', 6), { take: false, reason: 'gap' }, 'a huge generation does not freeze the host');
    assert.deepEqual(gate.judge(state(8), 'plane', 6), { take: false, reason: 'gap' });
  });

  test("the answer to the host's own request is the plane's word, lower than the generation held or far ahead", () => {
    const gate = new DesiredStateGate(() => 'plane');
    const asked = gate.ask();
    assert.deepEqual(gate.judge(state(3, asked), 'plane', 1_000_000), { take: true, authoritative: true }, 'a frozen host or a restored plane database');
    assert.deepEqual(gate.judge(state(3, asked), 'plane', 3), { take: false, reason: 'stale' }, 'once only');
    const ahead = gate.ask();
    assert.deepEqual(gate.judge(state(40, ahead), 'plane', 3), { take: true, authoritative: true });
    assert.deepEqual(gate.judge(state(2, '9b8f0a52-6a7e-4a55-8a0e-2f7d3b6c1e44'), 'plane', 40), { take: false, reason: 'stale' }, 'a made-up syncId is nobody\'s answer');
  });

  test('an answer older than a desired state applied since is not taken back', () => {
    const gate = new DesiredStateGate(() => 'plane');
    const asked = gate.ask();
    assert.deepEqual(gate.judge(state(8), 'plane', 7), { take: true, authoritative: false });
    assert.deepEqual(gate.judge(state(7, asked), 'plane', 8), { take: false, reason: 'stale' });
    const first = gate.ask();
    const second = gate.ask();
    assert.deepEqual(gate.judge(state(9, second), 'plane', 8), { take: true, authoritative: true });
    assert.deepEqual(gate.judge(state(8, first), 'plane', 9), { take: false, reason: 'stale' }, 'an answer to an earlier request, after a later one');
  });
});
