import { randomUUID } from 'node:crypto';
import { Exchanges, ROLE_STATUS, RoutingKeys, type RoleStatusEvent } from '#contracts';
import { UnroutableError, type AmqpConnection } from '#amqp';
import type { Logger } from '#logging';
import { errnoCode } from './fs-primitives';
import type { Outbox, OutboxEntry } from './outbox';
import type { RoleStatusReport, StatusSink } from './role-engine';
import type { AgentMetrics } from './hostagent.metrics';

/** A hook may print NUL bytes; the plane refuses them in text (no database column holds them). */
function withoutNul(text: string | undefined): string | undefined {
  return text?.replaceAll('\u0000', '\ufffd');
}

export type ReportOutbox = Pick<Outbox, 'append' | 'drain' | 'size'>;
export type ReportPublisher = Pick<AmqpConnection, 'isConnected' | 'publish'>;

export interface StatusReporterOptions {
  /** Reports kept in memory while the outbox cannot be written (a full or failing disk); past it the oldest goes, loudly. */
  maxUnwritten?: number;
  /** How soon reports kept in memory are tried again (written, or sent). */
  retryMs?: number;
}

/**
 * Status reports go to the on-disk outbox first and leave it in order, each removed
 * only once the broker confirmed it; while the broker is away they wait. A report the
 * outbox cannot take (the disk is full or failing) is kept in memory, behind any kept
 * before it, and tried again: written to the outbox once the disk takes it, or sent
 * straight to the broker once the outbox is empty, never dropped without a trace.
 */
export class StatusReporter implements StatusSink {
  private readonly unwritten: OutboxEntry[] = [];
  private readonly maxUnwritten: number;
  private readonly retryMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushes: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** The last write to the outbox failed: said once, not at every retry. */
  private diskFailing = false;

  constructor(
    private readonly hostId: string,
    private readonly outbox: ReportOutbox,
    private readonly connection: ReportPublisher,
    private readonly logger: Logger,
    private readonly metrics?: AgentMetrics,
    options: StatusReporterOptions = {},
  ) {
    this.maxUnwritten = options.maxUnwritten ?? 1000;
    this.retryMs = options.retryMs ?? 5000;
  }

  async report(status: RoleStatusReport): Promise<void> {
    const body: RoleStatusEvent = { hostId: this.hostId, ...status, message: withoutNul(status.message), log: withoutNul(status.log) };
    if (body.message === undefined) delete body.message;
    if (body.log === undefined) delete body.log;
    if (body.failures === undefined) delete body.failures;
    const entry: OutboxEntry = { kind: ROLE_STATUS, routingKey: RoutingKeys.hostEvent(this.hostId, 'role-status'), body, messageId: randomUUID() };
    this.logger.info('role status', { role: status.role, version: status.version, generation: status.generation, state: status.state, message: status.message, failures: status.failures });
    // Behind the reports already kept in memory, or it would overtake them.
    if (this.unwritten.length > 0) this.keep(entry);
    else {
      try {
        await this.outbox.append(entry);
        this.writeWorked();
      } catch (err) {
        this.writeFailed(err);
        this.keep(entry);
      }
    }
    void this.flush();
  }

  /** Sends what waits, in order; stops at the first failure and leaves the rest. Flushes run one after another. */
  flush(): Promise<number> {
    const run = this.flushes.then(() => this.flushNow());
    this.flushes = run.catch(() => undefined);
    return run;
  }

  /** No more retries on the timer (the agent stops). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Reports waiting in memory because the outbox could not take them. */
  get kept(): number {
    return this.unwritten.length;
  }

  private async flushNow(): Promise<number> {
    await this.writeKept();
    let sent = 0;
    try {
      if (!this.connection.isConnected()) return 0;
      sent = await this.outbox.drain((entry) => this.send(entry));
      // The disk still takes nothing: once what it holds has gone, what waits in memory goes straight out.
      if (this.outbox.size() === 0) sent += await this.sendKept();
      return sent;
    } catch (err) {
      this.logger.warn('status reports wait in the outbox', { err: String(err), waiting: this.outbox.size() });
      return sent;
    } finally {
      this.metrics?.outboxSize.set(this.outbox.size());
      this.metrics?.reportsInMemory.set(this.unwritten.length);
      if (this.unwritten.length > 0) this.scheduleRetry();
    }
  }

  private send(entry: OutboxEntry): Promise<void> {
    // Mandatory: a report that no queue takes yet (the role store never ran on this broker) is kept and sent again.
    return this.connection.publish(Exchanges.events, entry.routingKey, entry.kind, entry.body, { messageId: entry.messageId, persistent: true, mandatory: true }).catch((err: unknown) => {
      if (err instanceof UnroutableError) this.logger.warn('no queue takes status reports yet (has the role store started?): they wait', { err: err.message });
      throw err;
    });
  }

  /** Moves what waits in memory to the outbox, oldest first, until the disk refuses one. */
  private async writeKept(): Promise<void> {
    while (this.unwritten.length > 0) {
      try {
        await this.outbox.append(this.unwritten[0]!);
      } catch (err) {
        this.writeFailed(err);
        return;
      }
      this.unwritten.shift();
      this.writeWorked();
    }
  }

  private async sendKept(): Promise<number> {
    let sent = 0;
    while (this.unwritten.length > 0) {
      await this.send(this.unwritten[0]!);
      this.unwritten.shift();
      sent++;
    }
    return sent;
  }

  private keep(entry: OutboxEntry): void {
    this.unwritten.push(entry);
    if (this.unwritten.length > this.maxUnwritten) {
      const dropped = this.unwritten.shift()!;
      this.metrics?.reportsDropped.inc();
      this.logger.error('too many status reports wait in memory for the disk: the oldest is dropped', { messageId: dropped.messageId, body: dropped.body, kept: this.unwritten.length });
    }
    this.metrics?.reportsInMemory.set(this.unwritten.length);
    this.scheduleRetry();
  }

  private writeFailed(err: unknown): void {
    const code = errnoCode(err) ?? 'other';
    this.metrics?.outboxWriteFailures.inc({ code });
    if (!this.diskFailing) this.logger.warn('status reports cannot be written to the outbox: kept in memory and tried again', { code, err: String(err), kept: this.unwritten.length });
    this.diskFailing = true;
  }

  private writeWorked(): void {
    if (this.diskFailing) this.logger.info('the outbox takes status reports again', { kept: this.unwritten.length });
    this.diskFailing = false;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flush();
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
