import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const REVIEW_OUTCOMES = ['authenticated', 'denied', 'error', 'malformed'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

/** pf9-bouncer's metrics (`hostplane_bouncer_*`). No label ever carries a token or anything made from one. */
export class BouncerMetrics {
  readonly registry = new Registry();
  /** TokenReviews answered, by outcome: authenticated, denied, error (the plane could not be asked: failed closed), malformed (400). */
  readonly reviews: Counter<'outcome'>;
  readonly cacheHits: Counter<'answer'>;
  readonly cacheMisses: Counter;
  /** Positive answers used past their freshness because the plane could not be asked. */
  readonly staleAnswers: Counter;
  readonly cacheEntries: Gauge;
  /** Round trips to the plane, by result: answered, refused, invalid, timeout, not-connected, unroutable. */
  readonly planeRequestSeconds: Histogram<'result'>;
  readonly planeConnected: Gauge;
  readonly certificateExpiry: Gauge;

  constructor(cacheSize: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hostplane_bouncer_' });
    this.reviews = new Counter({ name: 'hostplane_bouncer_reviews_total', help: 'TokenReviews answered, by outcome', labelNames: ['outcome'], registers });
    for (const outcome of REVIEW_OUTCOMES) this.reviews.inc({ outcome }, 0);
    this.cacheHits = new Counter({ name: 'hostplane_bouncer_cache_hits_total', help: 'Reviews answered from the cache, by answer (positive, negative)', labelNames: ['answer'], registers });
    for (const answer of ['positive', 'negative']) this.cacheHits.inc({ answer }, 0);
    this.cacheMisses = new Counter({ name: 'hostplane_bouncer_cache_misses_total', help: 'Reviews the cache could not answer: the plane was asked', registers });
    this.staleAnswers = new Counter({
      name: 'hostplane_bouncer_cache_stale_answers_total',
      help: 'Positive answers used past their freshness because the plane could not be asked (within the positive TTL)',
      registers,
    });
    this.cacheEntries = new Gauge({ name: 'hostplane_bouncer_cache_entries', help: 'Answers held in the cache', registers, collect: () => this.cacheEntries.set(cacheSize()) });
    this.planeRequestSeconds = new Histogram({
      name: 'hostplane_bouncer_plane_request_seconds',
      help: 'Time to ask the plane about a token through the host tunnel, by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.planeConnected = new Gauge({ name: 'hostplane_bouncer_plane_connected', help: '1 while the broker connection through pf9-comms is up', registers });
    this.certificateExpiry = new Gauge({ name: 'hostplane_bouncer_certificate_expiry_timestamp_seconds', help: 'When the certificate served to kube-apiserver expires', registers });
  }
}
