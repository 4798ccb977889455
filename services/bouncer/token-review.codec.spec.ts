import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenReview, tokenReviewResponse } from './token-review.codec';

/** A TokenReview exactly as kube-apiserver's webhook authenticator sends it (authentication.k8s.io/v1). */
function asKubernetesSends(spec: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status: { user: {} } };
}

describe('TokenReview bodies', () => {
  test('takes the token of a v1 TokenReview as kube-apiserver sends it, with or without audiences', () => {
    assert.deepEqual(parseTokenReview(asKubernetesSends({ token: 'abc' })), { ok: true, token: 'abc' });
    assert.deepEqual(parseTokenReview(asKubernetesSends({ token: 'abc', audiences: ['https://kubernetes.default.svc'] })), { ok: true, token: 'abc' });
    assert.deepEqual(parseTokenReview({ ...asKubernetesSends({ token: 'abc' }), newField: 1 }), { ok: true, token: 'abc' }, 'fields it does not use are ignored');
  });

  test('refuses another apiVersion (v1beta1 included), another kind, and what is no TokenReview', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...asKubernetesSends({ token: 'abc' }), apiVersion: 'authentication.k8s.io/v1beta1' }, /apiVersion must be authentication.k8s.io\/v1, not "authentication.k8s.io\/v1beta1"/],
      [{ ...asKubernetesSends({ token: 'abc' }), apiVersion: undefined }, /apiVersion must be .* not nothing/],
      [{ ...asKubernetesSends({ token: 'abc' }), kind: 'SubjectAccessReview' }, /kind must be TokenReview/],
      [asKubernetesSends({}), /spec.token must be a non-empty string/],
      [asKubernetesSends({ token: '' }), /spec.token must be a non-empty string/],
      [asKubernetesSends({ token: 7 }), /spec.token must be a non-empty string/],
      [asKubernetesSends({ token: 'abc', audiences: 'one' }), /spec.audiences must be a list of strings/],
      [{ ...asKubernetesSends({ token: 'abc' }), spec: 'abc' }, /spec must be an object/],
      [[asKubernetesSends({ token: 'abc' })], /not a TokenReview object/],
      [null, /not a TokenReview object/],
    ];
    for (const [body, problem] of cases) {
      const parsed = parseTokenReview(body);
      assert.equal(parsed.ok, false, JSON.stringify(body));
      if (!parsed.ok) assert.match(parsed.problem, problem);
    }
  });

  test('answers as Kubernetes documents it: status.authenticated, and the user when true', () => {
    const user = { username: 'ci', uid: 'u-1', groups: ['hostplane:operator'] };
    assert.deepEqual(tokenReviewResponse({ outcome: 'authenticated', user }), {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      status: { authenticated: true, user },
    });
    assert.deepEqual(tokenReviewResponse({ outcome: 'denied' }), { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: false } });
    assert.deepEqual(tokenReviewResponse({ outcome: 'error', error: 'the plane cannot be asked (timeout)' }), {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      status: { authenticated: false, error: 'the plane cannot be asked (timeout)' },
    });
  });
});
