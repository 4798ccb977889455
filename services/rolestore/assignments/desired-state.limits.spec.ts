import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HOST_DESIRED_STATE, MAX_BODY_BYTES, MAX_ROLES_PER_HOST, validateMessage, type DesiredRole, type HostDesiredStateControl } from '#contracts';
import { desiredStateBytes, desiredStateProblem } from './desired-state.limits';

function role(i: number, config: Record<string, unknown> = {}, generation = 1): DesiredRole {
  return { name: `role-${i}`, version: '1.0.0', sha256: 'a'.repeat(64), config, generation };
}

function hostWith(roles: DesiredRole[], generation = 1): HostDesiredStateControl {
  return { hostId: 'host-1', state: 'authorized', generation, roles };
}

describe('desired state limits', () => {
  test('the size is counted with every generation at its widest: what the host is sent is never larger', () => {
    for (const generation of [0, 7, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      const state = hostWith([role(1, { a: 1 }, generation), role(2, {}, generation)], generation);
      assert.ok(Buffer.byteLength(JSON.stringify(state)) <= desiredStateBytes(state), `generation ${generation}`);
    }
    assert.equal(desiredStateBytes(hostWith([role(1)], 0)), desiredStateBytes(hostWith([role(1)], 99)));
  });

  test('a state fits up to the body limit every consumer applies, and not a byte more', () => {
    const base = desiredStateBytes(hostWith([role(1, { pad: '' })]));
    const fits = hostWith([role(1, { pad: 'p'.repeat(MAX_BODY_BYTES - base) })]);
    assert.equal(desiredStateBytes(fits), MAX_BODY_BYTES);
    assert.equal(desiredStateProblem(fits, 'role-1'), undefined);
    const over = hostWith([role(1, { pad: 'p'.repeat(MAX_BODY_BYTES - base + 1) })]);
    assert.equal(
      desiredStateProblem(over, 'role-1'),
      `host host-1's desired state would take ${MAX_BODY_BYTES + 1} bytes with role role-1 (whose config takes ${MAX_BODY_BYTES - base + 11}), ` +
        `more than the ${MAX_BODY_BYTES} a host accepts in one message: give the role a smaller config, or take other roles off the host`,
    );
  });

  test('as many roles as the host accepts, and not one more', () => {
    const full = hostWith([...Array(MAX_ROLES_PER_HOST).keys()].map((i) => role(i)));
    assert.equal(desiredStateProblem(full, 'role-0'), undefined);
    assert.ok(validateMessage(HOST_DESIRED_STATE, full).ok, "the host's validation takes the full list");
    const over = hostWith([...Array(MAX_ROLES_PER_HOST + 1).keys()].map((i) => role(i)));
    assert.equal(desiredStateProblem(over, 'role-0'), `host host-1 would have ${MAX_ROLES_PER_HOST + 1} roles, more than the ${MAX_ROLES_PER_HOST} a host accepts`);
    assert.ok(!validateMessage(HOST_DESIRED_STATE, over).ok, "the host's validation refuses a longer list");
  });

  test("whatever else the host's consumer would refuse is refused as well", () => {
    const state = hostWith([{ ...role(1), sha256: 'A'.repeat(64) }]);
    assert.match(desiredStateProblem(state, 'role-1') ?? '', /^host host-1's desired state would not pass the host's checks: roles\.0\.sha256: sha256 must match/);
  });
});
