import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { Database, Queryable } from './database';

/**
 * SQLite through node:sqlite. The driver is synchronous, so every statement is atomic;
 * a mutex keeps a transaction's statements from interleaving with other callers'.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private lock: Promise<void> = Promise.resolve();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new DatabaseSync(file);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
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
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1 AS one');
  }

  async close(): Promise<void> {
    await this.exclusive(async () => this.db.close());
  }

  private queryNow<T extends object>(sql: string, params: readonly unknown[]): T[] {
    return this.db.prepare(toSqlite(sql)).all(...params.map(toInput)) as T[];
  }

  private executeNow(sql: string, params: readonly unknown[]): number {
    return Number(this.db.prepare(toSqlite(sql)).run(...params.map(toInput)).changes);
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
