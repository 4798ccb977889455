import type { Verdict } from './token-reviewer';

// Kubernetes' webhook token authentication: kube-apiserver POSTs a TokenReview
// (authentication.k8s.io/v1) and reads back the same object with its status filled in.

export const TOKEN_REVIEW_API_VERSION = 'authentication.k8s.io/v1';
export const TOKEN_REVIEW_KIND = 'TokenReview';

export type ParsedTokenReview = { ok: true; token: string } | { ok: false; problem: string };

/**
 * The token of a TokenReview as kube-apiserver sends it
 * (`{"apiVersion","kind","metadata":{…},"spec":{"token","audiences"?},"status":{…}}`).
 * Only authentication.k8s.io/v1 is taken: kube-apiserver needs
 * --authentication-token-webhook-version=v1 (its default is still v1beta1).
 * Fields we do not use are ignored, as Kubernetes' own decoders do.
 */
export function parseTokenReview(body: unknown): ParsedTokenReview {
  if (!isObject(body)) return { ok: false, problem: 'the body is not a TokenReview object' };
  if (body.apiVersion !== TOKEN_REVIEW_API_VERSION) {
    return { ok: false, problem: `apiVersion must be ${TOKEN_REVIEW_API_VERSION}, not ${describe(body.apiVersion)} (kube-apiserver: --authentication-token-webhook-version=v1)` };
  }
  if (body.kind !== TOKEN_REVIEW_KIND) return { ok: false, problem: `kind must be ${TOKEN_REVIEW_KIND}, not ${describe(body.kind)}` };
  const spec = body.spec;
  if (!isObject(spec)) return { ok: false, problem: 'spec must be an object' };
  if (typeof spec.token !== 'string' || spec.token === '') return { ok: false, problem: 'spec.token must be a non-empty string' };
  const audiences = spec.audiences;
  if (audiences !== undefined && audiences !== null && !(Array.isArray(audiences) && audiences.every((a) => typeof a === 'string'))) {
    return { ok: false, problem: 'spec.audiences must be a list of strings' };
  }
  return { ok: true, token: spec.token };
}

/**
 * The answer, as Kubernetes documents it: the TokenReview with `status`. Operator tokens
 * are not bound to audiences, so `status.audiences` is left out: kube-apiserver then takes
 * the token as valid for its own audiences.
 */
export function tokenReviewResponse(verdict: Verdict): object {
  const status =
    verdict.outcome === 'authenticated'
      ? { authenticated: true, user: { username: verdict.user.username, uid: verdict.user.uid, groups: verdict.user.groups } }
      : verdict.outcome === 'error'
        ? { authenticated: false, error: verdict.error }
        : { authenticated: false };
  return { apiVersion: TOKEN_REVIEW_API_VERSION, kind: TOKEN_REVIEW_KIND, status };
}

/** A request refused before review, in the shape of a Kubernetes Status. */
export function statusResponse(code: number, reason: string, message: string): object {
  return { apiVersion: 'v1', kind: 'Status', status: 'Failure', message, reason, code };
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'nothing' : `a ${Array.isArray(value) ? 'list' : value === null ? 'null' : typeof value}`;
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
