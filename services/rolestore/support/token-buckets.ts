/**
 * A token bucket per key (a host): `burst` at once, then one every `refillMs`. At most
 * `maxKeys` are kept: keys whose bucket is full again are forgotten first, then the oldest, so
 * that a flood of made-up keys cannot grow the map (the keys are host ids the broker vouched
 * for, where hosts have their own broker users: a host cannot make up others' to get more).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    private readonly clock: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes a token of `key`'s bucket; false when it has none left. */
  take(key: string): boolean {
    const now = this.clock();
    const bucket = this.buckets.get(key);
    const tokens = bucket === undefined ? this.burst : Math.min(this.burst, bucket.tokens + (now - bucket.atMs) / this.refillMs);
    if (tokens < 1) {
      if (bucket !== undefined) Object.assign(bucket, { tokens, atMs: now });
      return false;
    }
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.forget(now);
      this.buckets.set(key, { tokens: tokens - 1, atMs: now });
    } else Object.assign(bucket, { tokens: tokens - 1, atMs: now });
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  private forget(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.atMs) / this.refillMs >= this.burst) this.buckets.delete(key);
    }
    const oldest = this.buckets.keys().next();
    if (this.buckets.size >= this.maxKeys && oldest.done !== true) this.buckets.delete(oldest.value);
  }
}
