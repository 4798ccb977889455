import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { AuditService, type AuditEvent } from './audit.service';

/** What one source may have recorded, one record per refusal, in a window, before the rest is counted. */
export const UNPROVEN_REFUSALS_PER_SOURCE = 120;
/** The same for all sources together. */
export const UNPROVEN_REFUSALS_TOTAL = 1200;
export const UNPROVEN_REFUSALS_WINDOW_MS = 60_000;
/** The most sources counted apart; more are counted together under `http:*`. */
const MAX_SOURCES = 10_000;

interface Suppressed {
  actor: string;
  count: number;
  actions: Record<string, number>;
  firstMs: number;
  lastMs: number;
}

/**
 * Refusals of requests that proved no identity (no token, or one that is not valid) are
 * recorded one by one up to a bound per source and per minute; past it they are counted, and
 * each source's count is recorded as one `audit.suppressed` record when the minute is over.
 * Every attempt stays in the log, and a client without a token cannot grow it without end.
 */
@Injectable()
export class UnprovenRefusals implements OnModuleDestroy {
  private windowStartMs: number;
  private total = 0;
  private perSource = new Map<string, number>();
  private suppressed = new Map<string, Suppressed>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.windowStartMs = clock.now();
    this.timer = setInterval(() => this.roll(), UNPROVEN_REFUSALS_WINDOW_MS);
    this.timer.unref();
  }

  /** True: record this refusal now. False: it is counted, and recorded with the others at the window's end. */
  admit(event: AuditEvent): boolean {
    this.roll();
    // Past MAX_SOURCES sources in a window, the others are counted together.
    const source = this.perSource.has(event.source) || this.perSource.size < MAX_SOURCES ? event.source : 'http:*';
    const seen = (this.perSource.get(source) ?? 0) + 1;
    this.perSource.set(source, seen);
    this.total += 1;
    if (seen <= UNPROVEN_REFUSALS_PER_SOURCE && this.total <= UNPROVEN_REFUSALS_TOTAL) return true;
    const now = this.clock.now();
    const entry = this.suppressed.get(source) ?? { actor: event.actor, count: 0, actions: {}, firstMs: now, lastMs: now };
    entry.count += 1;
    entry.lastMs = now;
    entry.actions[event.action] = (entry.actions[event.action] ?? 0) + 1;
    this.suppressed.set(source, entry);
    return false;
  }

  /** Records what the window counted (at its end, and when the role store stops). */
  async flush(): Promise<void> {
    const pending = this.suppressed;
    this.suppressed = new Map();
    this.perSource = new Map();
    this.total = 0;
    this.windowStartMs = this.clock.now();
    for (const [source, entry] of pending) {
      await this.audit
        .record({
          actor: entry.actor,
          action: 'audit.suppressed',
          target: 'refusals',
          outcome: 'UNAUTHENTICATED',
          source,
          details: { count: entry.count, actions: entry.actions, from: new Date(entry.firstMs).toISOString(), to: new Date(entry.lastMs).toISOString() },
        })
        .catch((err: unknown) => this.logger.error('could not record the count of refusals', { source, count: entry.count, err: String(err) }));
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private roll(): void {
    if (this.clock.now() - this.windowStartMs >= UNPROVEN_REFUSALS_WINDOW_MS) void this.flush();
  }
}
