import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { BouncerMetrics } from './bouncer.metrics';
import type { PlaneAnswer, PlaneReviewer } from './plane-review.client';
import { ReviewCache } from './review-cache';
import { TokenReviewer } from './token-reviewer';

const TOKEN = 'hp_SECRET-token-value-0123456789';
const user = { username: 'ci', uid: 'u-1', groups: ['hostplane:operator'] };
const yes: PlaneAnswer = { kind: 'answered', result: { authenticated: true, user } };
const no: PlaneAnswer = { kind: 'answered', result: { authenticated: false } };
const away: PlaneAnswer = { kind: 'unavailable', cause: 'timeout' };

/** A plane that answers what `answer` says, counting the questions. */
class FakePlane implements PlaneReviewer {
  asked: string[] = [];
  answer: PlaneAnswer = yes;
  gate: Promise<void> | null = null;

  async review(token: string): Promise<PlaneAnswer> {
    this.asked.push(token);
    if (this.gate) await this.gate;
    return this.answer;
  }
}

function setup(options: { positiveTtlMs?: number; negativeTtlMs?: number; maxPending?: number } = {}) {
  let now = 1_000_000;
  const plane = new FakePlane();
  const cache = new ReviewCache({ positiveTtlMs: options.positiveTtlMs ?? 60_000, negativeTtlMs: options.negativeTtlMs ?? 10_000, maxEntries: 100 });
  const metrics = new BouncerMetrics(() => cache.size);
  const lines: string[] = [];
  const logger = new Logger('bouncer', 'debug', { write: (line) => lines.push(line) });
  const reviewer = new TokenReviewer(plane, cache, metrics, logger, { maxPending: options.maxPending ?? 10, now: () => now });
  const at = (ms: number): void => void (now = 1_000_000 + ms);
  const metric = async (name: string): Promise<string> =>
    (await metrics.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith(name))
      .join('\n');
  return { plane, reviewer, lines, at, metric };
}

describe('TokenReviewer', () => {
  test('asks the plane once, then answers from the cache while the answer is fresh', async () => {
    const { plane, reviewer, at, metric } = setup();
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'authenticated', user });
    at(9_999);
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'authenticated', user });
    assert.equal(plane.asked.length, 1);
    assert.match(await metric('hostplane_bouncer_cache_hits_total'), /answer="positive"} 1/);
    assert.match(await metric('hostplane_bouncer_cache_misses_total'), / 1$/);
  });

  test('a wrong token is refused, and refused again from the cache for the negative TTL', async () => {
    const { plane, reviewer, at } = setup();
    plane.answer = no;
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'denied' });
    at(9_999);
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'denied' });
    assert.equal(plane.asked.length, 1);
    at(10_000);
    plane.answer = yes;
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'authenticated', user }, 'asked again once the negative answer expired');
    assert.equal(plane.asked.length, 2);
  });

  test('revoked: a token that was valid is refused from the negative TTL on after its revocation, not the positive TTL', async () => {
    const { plane, reviewer, at } = setup({ positiveTtlMs: 60_000, negativeTtlMs: 10_000 });
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated');
    plane.answer = no; // revoked at once, right after the plane answered
    at(5_000);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated', 'still fresh');
    at(10_000);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'denied', 'asked again 10 s after the answer: refused');
    assert.equal(plane.asked.length, 2);
  });

  test('plane away: fails closed with nothing cached, and uses a positive answer only within the positive TTL', async () => {
    const { plane, reviewer, at, metric, lines } = setup({ positiveTtlMs: 60_000, negativeTtlMs: 10_000 });
    plane.answer = away;
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'error', error: 'the plane cannot be asked (timeout)' });
    assert.ok(lines.some((l) => /fail closed/.test(l)), 'a log line says so');
    plane.answer = yes;
    at(1);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated', 'not cached: asked again');
    plane.answer = away;
    at(30_000);
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'authenticated', user }, 'stale, used while the plane is away');
    assert.match(await metric('hostplane_bouncer_cache_stale_answers_total'), / 1$/);
    at(60_001);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'error', 'past the positive TTL: fails closed');
  });

  test('a plane that refuses this host, or answers nonsense, is no reason to use a cached positive answer', async () => {
    const { plane, reviewer, at } = setup();
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated');
    at(10_000);
    plane.answer = { kind: 'refused', code: 'HOST_NOT_AUTHORIZED' };
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'error', error: 'the plane refused to review tokens for this host (HOST_NOT_AUTHORIZED)' });
    at(15_000);
    plane.answer = yes;
    assert.deepEqual(await reviewer.review(TOKEN), { outcome: 'denied' }, 'the refusal is kept as any no');
    at(20_000);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated');
    at(30_000);
    plane.answer = { kind: 'invalid', problem: 'result.user.groups are not hostplane:<role> groups' };
    assert.equal((await reviewer.review(TOKEN)).outcome, 'error');
    plane.answer = away;
    assert.equal((await reviewer.review(TOKEN)).outcome, 'error', 'the positive answer was dropped with the nonsense');
  });

  test("a token's expiry bounds the cache: past it, the plane is asked", async () => {
    const { plane, reviewer, at } = setup();
    plane.answer = { kind: 'answered', result: { authenticated: true, user, expiresAt: new Date(1_000_000 + 3_000).toISOString() } };
    assert.equal((await reviewer.review(TOKEN)).outcome, 'authenticated');
    plane.answer = away;
    at(3_000);
    assert.equal((await reviewer.review(TOKEN)).outcome, 'error', 'not used past the expiry, not even while the plane is away');
    plane.answer = { kind: 'answered', result: { authenticated: true, user, expiresAt: new Date(1_000_000).toISOString() } };
    assert.equal((await reviewer.review(TOKEN)).outcome, 'denied', 'an answer about an expired token is no');
  });

  test('concurrent reviews of one token ask the plane once; distinct ones beyond maxPending are refused', async () => {
    const { plane, reviewer } = setup({ maxPending: 2 });
    let open!: () => void;
    plane.gate = new Promise((resolve) => (open = resolve));
    const same = [reviewer.review(TOKEN), reviewer.review(TOKEN), reviewer.review(TOKEN)];
    const other = reviewer.review(`${TOKEN}-2`);
    assert.deepEqual(await reviewer.review(`${TOKEN}-3`), { outcome: 'error', error: 'too many token reviews are waiting for the plane' });
    open();
    assert.deepEqual((await Promise.all([...same, other])).map((v) => v.outcome), ['authenticated', 'authenticated', 'authenticated', 'authenticated']);
    assert.deepEqual(plane.asked, [TOKEN, `${TOKEN}-2`]);
  });

  test('what cannot be an operator token is refused without asking the plane', async () => {
    const { plane, reviewer } = setup();
    for (const token of ['x'.repeat(1025), 'has space', 'tab\there', 'ünïcode', 'nul\u0000']) {
      assert.deepEqual(await reviewer.review(token), { outcome: 'denied' }, JSON.stringify(token.slice(0, 20)));
    }
    assert.equal(plane.asked.length, 0);
    assert.equal((await reviewer.review('x'.repeat(1024))).outcome, 'authenticated');
  });

  test('the token appears in no log line and no metric', async () => {
    const { plane, reviewer, lines, metric } = setup();
    for (const answer of [yes, no, away, { kind: 'refused', code: 'FORBIDDEN' } as PlaneAnswer, { kind: 'invalid', problem: 'x' } as PlaneAnswer]) {
      plane.answer = answer;
      await reviewer.review(`${TOKEN}-${answer.kind}`);
    }
    assert.ok(lines.length >= 3);
    for (const line of lines) assert.doesNotMatch(line, /SECRET/);
    assert.doesNotMatch(await metric(''), /SECRET/);
  });
});
