import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readPlaneReply } from './plane-review.client';

const user = { username: 'ci-deployer', uid: '3f6c1a52', groups: ['hostplane:operator'] };

describe("the plane's reply to token.review", () => {
  test('takes an authenticated answer, with or without an expiry, and a refusal', () => {
    assert.deepEqual(readPlaneReply({ ok: true, result: { authenticated: true, user } }), { kind: 'answered', result: { authenticated: true, user, expiresAt: null } });
    const expiresAt = '2030-01-01T00:00:00.000Z';
    assert.deepEqual(readPlaneReply({ ok: true, result: { authenticated: true, user, expiresAt } }), { kind: 'answered', result: { authenticated: true, user, expiresAt } });
    assert.deepEqual(readPlaneReply({ ok: true, result: { authenticated: false } }), { kind: 'answered', result: { authenticated: false } });
    assert.deepEqual(readPlaneReply({ ok: false, error: { code: 'HOST_NOT_AUTHORIZED', message: 'host h1 is not authorized', details: [] } }), { kind: 'refused', code: 'HOST_NOT_AUTHORIZED' });
  });

  test('keeps only the user fields Kubernetes is to get', () => {
    const answer = readPlaneReply({ ok: true, result: { authenticated: true, user: { ...user, extra: { 'x-scopes': ['everything'] } } } });
    assert.deepEqual(answer, { kind: 'answered', result: { authenticated: true, user, expiresAt: null } });
  });

  test('refuses what would give Kubernetes more than an operator token may, and what is no reply', () => {
    const cases: unknown[] = [
      { ok: true, result: { authenticated: true, user: { ...user, groups: ['system:masters'] } } },
      { ok: true, result: { authenticated: true, user: { ...user, groups: ['hostplane:operator', 'system:masters'] } } },
      { ok: true, result: { authenticated: true, user: { ...user, groups: [] } } },
      { ok: true, result: { authenticated: true, user: { ...user, username: 'system:kube-controller-manager' } } },
      { ok: true, result: { authenticated: true, user: { ...user, username: '' } } },
      { ok: true, result: { authenticated: true, user: { ...user, uid: 7 } } },
      { ok: true, result: { authenticated: true, user: { ...user, username: 'x'.repeat(257) } } },
      { ok: true, result: { authenticated: true } },
      { ok: true, result: { authenticated: true, user, expiresAt: 'tomorrow' } },
      { ok: true, result: { authenticated: 'yes' } },
      { ok: true },
      { ok: false, error: { message: 'no code' } },
      { ok: false, error: { code: 'lower case <script>' } },
      { result: { authenticated: true, user } },
      [],
      null,
    ];
    for (const reply of cases) assert.equal(readPlaneReply(reply).kind, 'invalid', JSON.stringify(reply));
  });
});
