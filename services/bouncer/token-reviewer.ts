import { createHmac, randomBytes } from 'node:crypto';
import { TOKEN_REVIEW_MAX_TOKEN_CHARS, TOKEN_REVIEW_TOKEN_PATTERN, type TokenReviewUser } from '#contracts';
import type { Logger } from '#logging';
import type { BouncerMetrics } from './bouncer.metrics';
import type { PlaneAnswer, PlaneReviewer } from './plane-review.client';
import type { ReviewCache } from './review-cache';

/** What bouncer tells kube-apiserver about a token. */
export type Verdict =
  | { outcome: 'authenticated'; user: TokenReviewUser }
  | { outcome: 'denied' }
  /** The token could not be reviewed (the plane cannot be asked, or would not answer for this host): not authenticated. */
  | { outcome: 'error'; error: string };

export interface TokenReviewerOptions {
  /** Reviews of distinct tokens waiting for the plane at once; more are refused. */
  maxPending: number;
  now?: () => number;
}

/**
 * Decides about a bearer token: from the cache while it may, else by asking the plane;
 * and when the plane cannot be asked, from a positive answer still within its TTL, or
 * not at all (fails closed). Concurrent reviews of one token share one question to the
 * plane. The token goes to the plane and nowhere else: not to a log, a metric or an error.
 */
export class TokenReviewer {
  private readonly inflight = new Map<string, Promise<Verdict>>();
  /** Cache keys are an HMAC with a key of this process: nothing in memory equals what the plane stores. */
  private readonly hmacKey = randomBytes(32);
  private readonly now: () => number;

  constructor(
    private readonly plane: PlaneReviewer,
    private readonly cache: ReviewCache,
    private readonly metrics: BouncerMetrics,
    private readonly logger: Logger,
    private readonly options: TokenReviewerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  review(token: string): Promise<Verdict> {
    // No operator token looks like this: it is no business of the plane's (nor should it travel there).
    if (token.length > TOKEN_REVIEW_MAX_TOKEN_CHARS || !TOKEN_REVIEW_TOKEN_PATTERN.test(token)) return Promise.resolve({ outcome: 'denied' });
    const key = createHmac('sha256', this.hmacKey).update(token).digest('base64');
    const cached = this.cache.lookup(key, this.now());
    if (cached.state === 'fresh') {
      this.metrics.cacheHits.inc({ answer: 'positive' });
      return Promise.resolve({ outcome: 'authenticated', user: cached.user });
    }
    if (cached.state === 'negative') {
      this.metrics.cacheHits.inc({ answer: 'negative' });
      return Promise.resolve({ outcome: 'denied' });
    }
    this.metrics.cacheMisses.inc();
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    if (this.inflight.size >= this.options.maxPending) {
      this.logger.warn('too many reviews waiting for the plane: refused (fail closed)', { pending: this.inflight.size });
      return Promise.resolve({ outcome: 'error', error: 'too many token reviews are waiting for the plane' });
    }
    const asking = this.ask(key, token).finally(() => this.inflight.delete(key));
    this.inflight.set(key, asking);
    return asking;
  }

  private async ask(key: string, token: string): Promise<Verdict> {
    let answer: PlaneAnswer;
    try {
      answer = await this.plane.review(token);
    } catch (err) {
      // PlaneReviewer never throws; should one, the review fails closed like any other failure.
      answer = { kind: 'invalid', problem: `the plane client failed: ${err instanceof Error ? err.name : 'error'}` };
    }
    const now = this.now();
    switch (answer.kind) {
      case 'answered': {
        const result = answer.result;
        if (!result.authenticated) {
          this.cache.putNegative(key, now);
          return { outcome: 'denied' };
        }
        const expiresAt = typeof result.expiresAt === 'string' ? Date.parse(result.expiresAt) : undefined;
        this.cache.putPositive(key, result.user, now, expiresAt);
        if (expiresAt !== undefined && expiresAt <= now) return { outcome: 'denied' };
        return { outcome: 'authenticated', user: result.user };
      }
      case 'refused':
        // The plane answered, for this host, no: a definite answer, kept as long as any no.
        this.cache.putNegative(key, now);
        this.logger.warn('the plane refused to review a token for this host', { code: answer.code });
        return { outcome: 'error', error: `the plane refused to review tokens for this host (${answer.code})` };
      case 'invalid':
        this.cache.forget(key);
        this.logger.error('the plane answered a token review with something unusable: not authenticated', { problem: answer.problem });
        return { outcome: 'error', error: 'the plane answered with something unusable' };
      case 'unavailable': {
        const cached = this.cache.lookup(key, now);
        if (cached.state === 'fresh' || cached.state === 'stale') {
          this.metrics.staleAnswers.inc();
          this.logger.info('the plane cannot be asked: a cached positive answer used', { cause: answer.cause });
          return { outcome: 'authenticated', user: cached.user };
        }
        if (cached.state === 'negative') return { outcome: 'denied' };
        this.logger.warn('the plane cannot be asked and the cache has no answer: not authenticated (fail closed)', { cause: answer.cause });
        return { outcome: 'error', error: `the plane cannot be asked (${answer.cause})` };
      }
    }
  }
}
