import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Logger } from '#logging';
import { ensurePrivateDir, errnoCode, writeFileAtomic } from '#private-fs';
import { HostFileModes } from './host-files';

/** A message waiting for the broker: enough to publish it exactly as it was meant. */
export interface OutboxEntry {
  /** The message kind (AMQP `type`). */
  kind: string;
  routingKey: string;
  body: unknown;
  /** Idempotency key: a re-send after a crash between publish and delete has no second effect. */
  messageId: string;
}

export interface OutboxOptions {
  /** Past this many entries the oldest are dropped (and counted), so a long outage cannot fill the disk. */
  maxEntries?: number;
  logger?: Logger;
}

const ENTRY_NAME = /^(\d{16})\.json$/;
const CORRUPT_DIR = 'corrupt';

/**
 * An on-disk FIFO for messages that must survive a broker outage and an agent restart.
 * Each entry is one file named by a sequence number; an entry is deleted only after it was sent.
 */
export class Outbox {
  private readonly maxEntries: number;
  private readonly logger: Logger;
  /** Sequence numbers of the entries on disk, oldest first. */
  private queue: number[] = [];
  private nextSeq = 1;
  private opened = false;
  private droppedCount = 0;
  /** The entry a drain is sending right now: never dropped under its feet. */
  private inFlight: number | null = null;
  private appends: Promise<void> = Promise.resolve();
  private drains: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    options: OutboxOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${this.maxEntries}`);
    this.logger = options.logger ?? new Logger('hostagent');
  }

  async open(): Promise<void> {
    if (this.opened) return;
    await ensurePrivateDir(this.dir, HostFileModes.outboxDir);
    const names = await fs.readdir(this.dir);
    // Temp files are appends that crashed before their rename: they were never acknowledged.
    await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => fs.rm(path.join(this.dir, n), { force: true })));
    this.queue = sequenceNumbers(names).sort((a, b) => a - b);
    const setAside = sequenceNumbers(await readdirOptional(path.join(this.dir, CORRUPT_DIR)));
    // Number past what was set aside too, so a later corrupt file never overwrites an earlier one there.
    this.nextSeq = [...this.queue, ...setAside].reduce((max, seq) => Math.max(max, seq), 0) + 1;
    this.opened = true;
    await this.enforceLimit();
  }

  /** Resolves once the entry is durably on disk. Appends keep their call order. */
  append(entry: OutboxEntry): Promise<void> {
    this.assertOpen();
    let json: string;
    try {
      json = serialize(entry);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const done = this.appends.then(() => this.write(json));
    this.appends = done.catch(() => undefined);
    return done;
  }

  /**
   * Sends entries oldest first, deleting each once `send` resolved, and stops at the first failure,
   * leaving that entry and the rest for the next drain. Drains run one after another, never together.
   * Resolves with the number of entries this call sent.
   */
  drain(send: (entry: OutboxEntry) => Promise<void>): Promise<number> {
    this.assertOpen();
    const done = this.drains.then(() => this.drainInOrder(send));
    this.drains = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  size(): number {
    return this.queue.length;
  }

  /** Entries dropped past maxEntries since this Outbox was created. */
  get dropped(): number {
    return this.droppedCount;
  }

  private async write(json: string): Promise<void> {
    const seq = this.nextSeq++;
    await writeFileAtomic(path.join(this.dir, entryName(seq)), json, HostFileModes.outboxEntry);
    this.queue.push(seq);
    await this.enforceLimit();
  }

  private async drainInOrder(send: (entry: OutboxEntry) => Promise<void>): Promise<number> {
    let sent = 0;
    while (this.queue.length > 0) {
      const seq = this.queue[0];
      const file = path.join(this.dir, entryName(seq));
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        this.forget(seq); // dropped past maxEntries while we were busy
        continue;
      }
      const parsed = parseEntry(text);
      if (!parsed.ok) {
        await this.setAside(seq, parsed.problem);
        continue;
      }

      this.inFlight = seq;
      try {
        await send(parsed.entry);
      } catch (err) {
        this.logger.debug('outbox: send failed, keeping the entry for the next drain', { seq, messageId: parsed.entry.messageId, err });
        return sent;
      } finally {
        this.inFlight = null;
      }
      this.forget(seq);
      sent++;
      try {
        await fs.rm(file, { force: true });
      } catch (err) {
        // Sent but still on disk: it goes again after a restart, which its messageId makes harmless.
        this.logger.warn('outbox: cannot delete a sent entry', { file, err });
      }
    }
    return sent;
  }

  private async enforceLimit(): Promise<void> {
    while (this.queue.length > this.maxEntries) {
      const index = this.queue[0] === this.inFlight ? 1 : 0;
      const [seq] = this.queue.splice(index, 1);
      await fs.rm(path.join(this.dir, entryName(seq)), { force: true });
      this.droppedCount++;
      this.logger.warn('outbox full: dropped the oldest entry', { dir: this.dir, seq, maxEntries: this.maxEntries, dropped: this.droppedCount });
    }
  }

  /** A file that cannot be read back is kept for a person to look at, but never blocks the queue. */
  private async setAside(seq: number, problem: string): Promise<void> {
    const name = entryName(seq);
    const target = path.join(this.dir, CORRUPT_DIR, name);
    this.forget(seq);
    try {
      await ensurePrivateDir(path.dirname(target), HostFileModes.outboxDir);
      await fs.rename(path.join(this.dir, name), target);
      this.logger.warn('outbox: corrupt entry set aside', { file: target, problem });
    } catch (err) {
      this.logger.warn('outbox: corrupt entry skipped, and it could not be moved aside', { file: path.join(this.dir, name), problem, err });
    }
  }

  private forget(seq: number): void {
    const index = this.queue.indexOf(seq);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private assertOpen(): void {
    if (!this.opened) throw new Error(`Outbox ${this.dir} used before open()`);
  }
}

function entryName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.json`;
}

function sequenceNumbers(names: string[]): number[] {
  const out: number[] = [];
  for (const name of names) {
    const m = ENTRY_NAME.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

function serialize(entry: OutboxEntry): string {
  for (const key of ['kind', 'routingKey', 'messageId'] as const) {
    if (typeof entry[key] !== 'string' || entry[key] === '') throw new TypeError(`outbox entry needs a non-empty string ${key}`);
  }
  if (entry.body === undefined) throw new TypeError('outbox entry needs a body');
  const { kind, routingKey, body, messageId } = entry;
  return JSON.stringify({ kind, routingKey, messageId, body });
}

type ParsedEntry = { ok: true; entry: OutboxEntry } | { ok: false; problem: string };

function parseEntry(text: string): ParsedEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: err instanceof Error ? err.message : String(err) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  const { kind, routingKey, messageId } = record;
  if (typeof kind !== 'string' || typeof routingKey !== 'string' || typeof messageId !== 'string' || !('body' in record)) {
    return { ok: false, problem: 'missing kind, routingKey, messageId or body' };
  }
  return { ok: true, entry: { kind, routingKey, messageId, body: record.body } };
}

async function readdirOptional(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
