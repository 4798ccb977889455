import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBuckets } from './token-buckets';

test('a key gets its burst at once, then one token per refill period; other keys are not touched', () => {
  let now = 0;
  const buckets = new TokenBuckets(3, 1000, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take('a')), [true, true, true, false]);
  assert.equal(buckets.take('b'), true, 'another key has its own bucket');
  now += 999;
  assert.equal(buckets.take('a'), false);
  now += 1;
  assert.deepEqual([buckets.take('a'), buckets.take('a')], [true, false]);
  now += 60_000;
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take('a')), [true, true, true, false], 'never more than the burst');
});

test('a flood of new keys does not grow the map past its bound; full buckets are forgotten first', () => {
  let now = 0;
  const buckets = new TokenBuckets(2, 100, () => now, 50);
  for (let i = 0; i < 50; i += 1) buckets.take(`k${i}`);
  buckets.take('busy');
  buckets.take('busy');
  now += 150;
  // k0…k49 are full again, busy is not: they go first.
  buckets.take('new');
  assert.equal(buckets.take('busy'), true, 'one token back after 150 ms, kept');
  assert.equal(buckets.take('busy'), false);
  for (let i = 50; i < 1000; i += 1) buckets.take(`k${i}`);
  assert.ok(buckets.size <= 50, `${buckets.size} keys kept`);
});
