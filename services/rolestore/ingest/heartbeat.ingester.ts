import { Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import type { HostHeartbeatEvent } from '#contracts';
import { UnavailableError } from '#amqp';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { HostsRepository, type HeartbeatRecord } from '../hosts/hosts.repository';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';

/** How heartbeats are gathered: a batch is written at this many messages, or this long after its first. */
export class HeartbeatBatching {
  maxBatch = 500;
  maxDelayMs = 50;
}

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Heartbeats are many and each supersedes the last: they are gathered for a moment
 * and written as one statement per batch, keeping only the newest of each host. A
 * heartbeat's message is acked once its batch is committed.
 */
@Injectable()
export class HeartbeatIngester implements OnApplicationShutdown {
  /** The newest record of each host, and every message waiting on it. */
  private pending = new Map<string, { record: HeartbeatRecord; waiting: Waiting[] }>();
  private waitingCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly hosts: HostsRepository,
    private readonly metrics: RolestoreMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
    @Optional() private readonly options: HeartbeatBatching = new HeartbeatBatching(),
  ) {}

  ingest(event: HostHeartbeatEvent): Promise<void> {
    const record = { hostId: event.hostId, hostname: event.hostname, info: event, receivedMs: this.clock.now() };
    const entry = this.pending.get(event.hostId) ?? { record, waiting: [] };
    entry.record = record;
    this.pending.set(event.hostId, entry);
    const done = new Promise<void>((resolve, reject) => entry.waiting.push({ resolve, reject }));
    this.waitingCount++;
    if (this.waitingCount >= this.options.maxBatch) this.flushSoon(0);
    else this.flushSoon(this.options.maxDelayMs);
    return done;
  }

  /** What came before the broker connection closed is written before the database closes (the database module shuts down last). */
  onApplicationShutdown(): Promise<void> {
    return this.flush();
  }

  /** Writes what is pending now. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.waitingCount = 0;
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.hosts.upsertHeartbeats(batch.map((entry) => entry.record));
        this.settle(batch, null);
        this.metrics.heartbeatBatchSize.observe(batch.length);
      } catch (err) {
        // A database that is away is logged where the messages wait (the consumer), and every message waits.
        if (err instanceof UnavailableError) {
          this.logger.debug('heartbeats wait: the database is unavailable', { batch: batch.length });
          this.settle(batch, err);
          return;
        }
        this.logger.error('could not persist heartbeats', { err: String(err), batch: batch.length });
        await this.oneByOne(batch, err);
      }
    });
    return this.flushing;
  }

  /**
   * After a batch failed: one record at a time, so that one bad record fails only its own
   * messages. Two failures in a row mean the database itself is in trouble: the rest fail too.
   */
  private async oneByOne(batch: Array<{ record: HeartbeatRecord; waiting: Waiting[] }>, batchError: unknown): Promise<void> {
    if (batch.length === 1) return this.settle(batch, batchError);
    let failuresInARow = 0;
    for (const [i, entry] of batch.entries()) {
      if (failuresInARow >= 2) return this.settle(batch.slice(i), batchError);
      try {
        await this.hosts.upsertHeartbeats([entry.record]);
        failuresInARow = 0;
        this.settle([entry], null);
      } catch (err) {
        failuresInARow++;
        this.logger.warn('could not persist a heartbeat', { hostId: entry.record.hostId, err: String(err) });
        this.settle([entry], err);
      }
    }
  }

  private settle(entries: Array<{ waiting: Waiting[] }>, err: unknown): void {
    for (const entry of entries) {
      if (err === null) this.metrics.heartbeatsPersisted.inc(entry.waiting.length);
      for (const w of entry.waiting) {
        if (err === null) w.resolve();
        else w.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private flushSoon(delayMs: number): void {
    if (delayMs === 0) {
      void this.flush();
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), delayMs);
  }
}
