import type { Reply } from '#contracts';

/** Remembers which message ids were processed, and what they were answered. */
/** Replies kept by key: the consumer's key is the sender (broker-validated user_id) and the message_id together. */
export interface IdempotencyStore {
  get(key: string): Promise<Reply<unknown> | null>;
  put(key: string, kind: string, reply: Reply<unknown>): Promise<void>;
}

/** A bounded in-memory store, for processes without a database. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Reply<unknown>>();

  constructor(private readonly capacity = 10_000) {}

  async get(messageId: string): Promise<Reply<unknown> | null> {
    return this.entries.get(messageId) ?? null;
  }

  async put(messageId: string, _kind: string, reply: Reply<unknown>): Promise<void> {
    this.entries.set(messageId, reply);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
