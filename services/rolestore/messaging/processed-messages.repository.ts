import { Injectable } from '@nestjs/common';
import type { Reply } from '#contracts';
import type { IdempotencyStore } from '#amqp';
import { Clock } from '../core/clock';
import { Database } from '../database/database';

/** Processed pf9.api message ids and their replies, so a re-sent command has no second effect. */
@Injectable()
export class ProcessedMessagesRepository implements IdempotencyStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async get(messageId: string): Promise<Reply<unknown> | null> {
    const rows = await this.db.query<{ reply: string }>('SELECT reply FROM processed_messages WHERE message_id = $1', [messageId]);
    const row = rows[0];
    return row ? (JSON.parse(row.reply) as Reply<unknown>) : null;
  }

  async put(messageId: string, kind: string, reply: Reply<unknown>): Promise<void> {
    await this.db.execute(
      'INSERT INTO processed_messages (message_id, kind, reply, processed_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING',
      [messageId, kind, JSON.stringify(reply), this.clock.now()],
    );
  }

  /** Forgets ids older than the window in which a client may re-send. */
  async prune(olderThanMs: number): Promise<number> {
    return this.db.execute('DELETE FROM processed_messages WHERE processed_ms < $1', [olderThanMs]);
  }
}
