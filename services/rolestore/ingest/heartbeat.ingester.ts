import type { HostHeartbeatEvent } from '#contracts';
import { UnavailableError } from '#amqp';
import type { Logger } from '#logging';
import type { HeartbeatRecord, HostsRepository } from '../hosts/hosts.repository';
import type { RolestoreMetrics } from '../metrics/rolestore.metrics';

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Heartbeats are many and each supersedes the last: they are gathered for a moment
 * and written as one statement per batch, keeping only the newest of each host. A
 * heartbeat's message is acked once its batch is committed.
 */
export class HeartbeatIngester {
  private pending = new Map<string, HeartbeatRecord>();
  private waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly hosts: HostsRepository,
    private readonly metrics: RolestoreMetrics,
    private readonly logger: Logger,
    private readonly options: { maxBatch: number; maxDelayMs: number } = { maxBatch: 500, maxDelayMs: 50 },
    private readonly clock: () => number = Date.now,
  ) {}

  ingest(event: HostHeartbeatEvent): Promise<void> {
    this.pending.set(event.hostId, {
      hostId: event.hostId,
      hostname: event.hostname,
      info: JSON.stringify(event),
      receivedMs: this.clock(),
    });
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (this.waiting.length >= this.options.maxBatch) this.flushSoon(0);
    else this.flushSoon(this.options.maxDelayMs);
    return done;
  }

  /** Writes what is pending now. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = [...this.pending.values()];
    const waiting = this.waiting;
    this.pending = new Map();
    this.waiting = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.hosts.upsertHeartbeats(batch);
        this.metrics.heartbeatsPersisted.inc(waiting.length);
        this.metrics.heartbeatBatchSize.observe(batch.length);
        for (const w of waiting) w.resolve();
      } catch (err) {
        // A database that is away is logged where the messages wait (the consumer); anything else is ours.
        if (err instanceof UnavailableError) this.logger.debug('heartbeats wait: the database is unavailable', { batch: batch.length });
        else this.logger.error('could not persist heartbeats', { err: String(err), batch: batch.length });
        for (const w of waiting) w.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return this.flushing;
  }

  private flushSoon(delayMs: number): void {
    if (delayMs === 0) {
      void this.flush();
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), delayMs);
  }
}
