import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { ProcessedMessagesRepository } from './processed-messages.repository';

/** Message ids are remembered for a day: long enough for any client's re-send. */
const PROCESSED_MESSAGES_KEPT_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/**
 * Forgets processed message ids once no client would re-send them. How the role store stops
 * is Nest's order: the transport closes the broker connection first (no message comes in,
 * none is acked), then modules shut down from the root outwards, each after the modules that
 * use it: heartbeats are flushed (hosts), the hosts' broker access stops (broker access), and
 * the database, a global module, closes last.
 */
@Injectable()
export class MessagingLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly processed: ProcessedMessagesRepository,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.pruneTimer = setInterval(() => {
      this.processed.prune(this.clock.now() - PROCESSED_MESSAGES_KEPT_MS).catch((err: unknown) => this.logger.warn('could not prune processed message ids', { err: String(err) }));
    }, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }
}
