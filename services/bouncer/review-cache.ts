import type { TokenReviewUser } from '#contracts';

export interface ReviewCacheOptions {
  /** How long a positive answer may be used at all (only while the plane cannot be asked, once it is no longer fresh). */
  positiveTtlMs: number;
  /** How long a negative answer is kept, and how long a positive one is used without asking the plane again. */
  negativeTtlMs: number;
  maxEntries: number;
}

type Entry = { authenticated: true; user: TokenReviewUser; freshUntil: number; usableUntil: number } | { authenticated: false; until: number };

/** What the cache knows about a token at a given moment. */
export type CacheLookup =
  | { state: 'miss' }
  | { state: 'negative' }
  /** A positive answer young enough to be used without asking the plane. */
  | { state: 'fresh'; user: TokenReviewUser }
  /** A positive answer to be used only if the plane cannot be asked. */
  | { state: 'stale'; user: TokenReviewUser };

/**
 * The answers of the plane, by a key derived from the token (never the token), least
 * recently used first out. A positive answer is used without asking the plane again only
 * for as long as a negative one is kept (so a revoked token is refused within that time
 * while the plane answers); after that it is asked again, and the positive answer serves
 * only while the plane cannot be asked, up to the positive TTL and never past the token's
 * own expiry.
 */
export class ReviewCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: ReviewCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(key: string, now: number): CacheLookup {
    const entry = this.entries.get(key);
    if (entry === undefined) return { state: 'miss' };
    const state = entry.authenticated ? (now < entry.freshUntil ? 'fresh' : now < entry.usableUntil ? 'stale' : 'expired') : now < entry.until ? 'negative' : 'expired';
    if (state === 'expired') {
      this.entries.delete(key);
      return { state: 'miss' };
    }
    // Most recently used last: Map keeps insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.authenticated ? { state: state as 'fresh' | 'stale', user: entry.user } : { state: 'negative' };
  }

  /** The plane said yes; `expiresAt` (epoch ms) is when the token itself expires, if it does. */
  putPositive(key: string, user: TokenReviewUser, now: number, expiresAt?: number): void {
    const usableUntil = Math.min(now + this.options.positiveTtlMs, expiresAt ?? Number.POSITIVE_INFINITY);
    const freshUntil = Math.min(now + this.options.negativeTtlMs, usableUntil);
    if (usableUntil <= now) return this.forget(key);
    this.put(key, { authenticated: true, user, freshUntil, usableUntil });
  }

  /** The plane said no (or would not review for this host). */
  putNegative(key: string, now: number): void {
    if (this.options.negativeTtlMs <= 0) return this.forget(key);
    this.put(key, { authenticated: false, until: now + this.options.negativeTtlMs });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  private put(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
