import { Pool, types, type PoolClient } from 'pg';
import type { Database, Queryable } from './database';

// BIGINT columns hold millisecond times and generations, well inside 2^53.
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  private readonly pool: Pool;
  readonly schema: string | null;

  /** A `schema` query parameter on the URL puts every table in that schema (created if missing). */
  constructor(url: string, options: { maxConnections?: number } = {}) {
    const parsed = new URL(url);
    this.schema = parsed.searchParams.get('schema');
    parsed.searchParams.delete('schema');
    if (this.schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) throw new Error(`invalid schema name '${this.schema}' in DATABASE_URL`);
    this.pool = new Pool({
      connectionString: parsed.toString(),
      max: options.maxConnections ?? 10,
      types: typeParsers,
      options: this.schema === null ? undefined : `-c search_path=${this.schema}`,
      connectionTimeoutMillis: 10_000,
    });
    this.pool.on('error', () => undefined);
  }

  async prepareSchema(): Promise<void> {
    if (this.schema !== null) await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
  }

  async query<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.pool.query(sql, params.map(toParam));
    return result.rows as T[];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.pool.query(sql, params.map(toParam));
    return result.rowCount ?? 0;
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(clientQueryable(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function clientQueryable(client: PoolClient): Queryable {
  return {
    query: async <T extends object>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params.map(toParam))).rows as T[],
    execute: async (sql: string, params: readonly unknown[] = []) => (await client.query(sql, params.map(toParam))).rowCount ?? 0,
  };
}

function toParam(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) return JSON.stringify(value);
  return value;
}
