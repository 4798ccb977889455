import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReviewCache } from './review-cache';

const user = { username: 'ci', uid: 'u-1', groups: ['hostplane:operator'] };

describe('ReviewCache', () => {
  test('a positive answer is fresh for the negative TTL, then stale until the positive TTL, then gone', () => {
    const cache = new ReviewCache({ positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 10 });
    cache.putPositive('k', user, 1_000);
    assert.deepEqual(cache.lookup('k', 1_000), { state: 'fresh', user });
    assert.deepEqual(cache.lookup('k', 10_999), { state: 'fresh', user });
    assert.deepEqual(cache.lookup('k', 11_000), { state: 'stale', user });
    assert.deepEqual(cache.lookup('k', 60_999), { state: 'stale', user });
    assert.deepEqual(cache.lookup('k', 61_000), { state: 'miss' });
    assert.equal(cache.size, 0, 'an expired entry is dropped');
  });

  test('a negative answer is kept for the negative TTL', () => {
    const cache = new ReviewCache({ positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 10 });
    cache.putNegative('k', 0);
    assert.deepEqual(cache.lookup('k', 9_999), { state: 'negative' });
    assert.deepEqual(cache.lookup('k', 10_000), { state: 'miss' });
  });

  test("no positive answer outlives the token's own expiry, nor is fresh past it", () => {
    const cache = new ReviewCache({ positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 10 });
    cache.putPositive('k', user, 0, 5_000);
    assert.equal(cache.lookup('k', 4_999).state, 'fresh');
    assert.equal(cache.lookup('k', 5_000).state, 'miss');
    cache.putPositive('gone', user, 10_000, 9_000);
    assert.equal(cache.lookup('gone', 10_000).state, 'miss', 'an answer about an expired token is not kept');
  });

  test('a TTL of 0 keeps nothing, and a new answer replaces the old one', () => {
    const none = new ReviewCache({ positiveTtlMs: 0, negativeTtlMs: 0, maxEntries: 10 });
    none.putPositive('a', user, 0);
    none.putNegative('b', 0);
    assert.equal(none.size, 0);
    const cache = new ReviewCache({ positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 10 });
    cache.putPositive('k', user, 0);
    cache.putNegative('k', 1);
    assert.deepEqual(cache.lookup('k', 2), { state: 'negative' });
  });

  test('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new ReviewCache({ positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 2 });
    cache.putNegative('a', 0);
    cache.putNegative('b', 0);
    assert.equal(cache.lookup('a', 1).state, 'negative', 'a used: b is now the oldest');
    cache.putNegative('c', 1);
    assert.equal(cache.size, 2);
    assert.deepEqual(['a', 'b', 'c'].map((k) => cache.lookup(k, 2).state), ['negative', 'miss', 'negative']);
  });
});
