import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { Database, type Queryable } from './database';
import { DatabaseUnavailableError } from './database-unavailable.error';

/**
 * SQLite through node:sqlite. The driver is synchronous, so every statement is atomic;
 * a mutex keeps a transaction's statements from interleaving with other callers'.
 */
export class SqliteDatabase extends Database {
  readonly dialect = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private lock: Promise<void> = Promise.resolve();

  /** `timeoutMs`: how long a statement waits for another process's lock on the file. */
  constructor(file: string, options: { timeoutMs?: number } = {}) {
    super();
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new DatabaseSync(file);
    const timeoutMs = Math.floor(options.timeoutMs ?? 5000);
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = ${timeoutMs};`);
  }

  async query<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.exclusive(async () => this.queryNow<T>(sql, params));
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.exclusive(async () => this.executeNow(sql, params));
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const tx: Queryable = {
        query: async <R extends object>(sql: string, params: readonly unknown[] = []) => this.queryNow<R>(sql, params),
        execute: async (sql: string, params: readonly unknown[] = []) => this.executeNow(sql, params),
      };
      this.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(tx);
        this.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** The driver is synchronous: a ping answers at once or fails, so the time limit has nothing to bound. */
  async ping(): Promise<void> {
    await this.query('SELECT 1 AS one');
  }

  async close(): Promise<void> {
    await this.exclusive(async () => this.db.close());
  }

  private exec(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (err) {
      unavailableOr(err);
    }
  }

  private queryNow<T extends object>(sql: string, params: readonly unknown[]): T[] {
    try {
      return this.db.prepare(toSqlite(sql)).all(...params.map(toInput)) as T[];
    } catch (err) {
      return unavailableOr(err);
    }
  }

  private executeNow(sql: string, params: readonly unknown[]): number {
    try {
      return Number(this.db.prepare(toSqlite(sql)).run(...params.map(toInput)).changes);
    } catch (err) {
      return unavailableOr(err);
    }
  }

  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** SQLite's primary result codes that say the file is busy, full or failing, not that the statement is wrong. */
const UNAVAILABLE_RESULT_CODES = new Set([5 /* BUSY */, 6 /* LOCKED */, 7 /* NOMEM */, 10 /* IOERR */, 13 /* FULL */, 14 /* CANTOPEN */, 15 /* PROTOCOL */]);

function unavailableOr(err: unknown): never {
  const errcode = err instanceof Error && 'errcode' in err && typeof err.errcode === 'number' ? err.errcode : undefined;
  if (errcode !== undefined && UNAVAILABLE_RESULT_CODES.has(errcode & 0xff)) throw new DatabaseUnavailableError(err);
  throw err;
}

/** $1 → ?1: SQLite numbers its parameters the same way, with another sigil. */
function toSqlite(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

function toInput(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint') return value;
  if (value instanceof Uint8Array) return value;
  return JSON.stringify(value);
}
