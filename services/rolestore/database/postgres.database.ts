import { Pool, types, type PoolClient, type QueryResult } from 'pg';
import { Database, type Queryable } from './database';
import { DatabaseUnavailableError, withDeadline } from './database-unavailable.error';

// BIGINT columns hold millisecond times and generations, well inside 2^53.
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.INT8 ? (value: string) => Number(value) : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

/** What the role store waits for anything from PostgreSQL unless told otherwise. */
const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;

export class PostgresDatabase extends Database {
  readonly dialect = 'postgres' as const;
  private readonly pool: Pool;
  readonly schema: string | null;
  private readonly timeoutMs: number;

  /**
   * A `schema` query parameter on the URL puts every table in that schema (created if missing).
   * `timeoutMs` bounds each wait: a connection (or a free one from the pool), a statement on the
   * server, and the answer on the client side, so a database that hangs cannot hold a caller.
   */
  constructor(url: string, options: { maxConnections?: number; timeoutMs?: number } = {}) {
    super();
    const parsed = new URL(url);
    this.schema = parsed.searchParams.get('schema');
    parsed.searchParams.delete('schema');
    if (this.schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema)) throw new Error(`invalid schema name '${this.schema}' in DATABASE_URL`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS;
    this.pool = new Pool({
      connectionString: parsed.toString(),
      max: options.maxConnections ?? 10,
      types: typeParsers,
      options: this.schema === null ? undefined : `-c search_path=${this.schema}`,
      connectionTimeoutMillis: this.timeoutMs,
      // The server cancels a statement that runs too long; the client gives up on an answer that
      // does not come (a hanging server or network) a little later, and the connection with it.
      statement_timeout: this.timeoutMs,
      idle_in_transaction_session_timeout: 2 * this.timeoutMs,
      query_timeout: this.timeoutMs + 500,
      keepAlive: true,
    });
    this.pool.on('error', () => undefined);
  }

  async prepareSchema(): Promise<void> {
    if (this.schema !== null) await this.run(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`, []);
  }

  async query<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.run(sql, params)).rows as T[];
  }

  async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.run(sql, params)).rowCount ?? 0;
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: unknown = undefined;
    // A connection lost between two statements is reported as an event: without a listener it would end the process.
    const lost = (err: Error): void => void (broken = err);
    client.on('error', lost);
    try {
      await client.query('BEGIN').catch(unavailableOr);
      const result = await work(clientQueryable(client));
      await client.query('COMMIT').catch(unavailableOr);
      return result;
    } catch (err) {
      // A connection that stopped answering is dropped (the server rolls back), not asked to roll back.
      if (err instanceof DatabaseUnavailableError) broken = err;
      else await client.query('ROLLBACK').catch((rollbackErr: unknown) => void (broken = rollbackErr));
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken === undefined ? undefined : broken instanceof Error ? broken : new Error(String(broken)));
    }
  }

  /** Answers within `timeoutMs` (the database's own limit by default), whatever the database does. */
  async ping(timeoutMs = this.timeoutMs): Promise<void> {
    await withDeadline(this.pool.query('SELECT 1'), timeoutMs, 'a ping').catch(unavailableOr);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async connect(): Promise<PoolClient> {
    const connecting = this.pool.connect();
    try {
      return await withDeadline(connecting, this.waitLimitMs(), 'a database connection');
    } catch (err) {
      // Should the pool hand the connection over after all, it goes back rather than leaking.
      connecting.then((late) => late.release(new Error('given up waiting for it')), () => undefined);
      return unavailableOr(err);
    }
  }

  private run(sql: string, params: readonly unknown[]): Promise<QueryResult> {
    return withDeadline(this.pool.query(sql, params.map(toParam)), this.waitLimitMs(), 'a query').catch(unavailableOr);
  }

  /** A free connection, then the answer: each has its own limit in the driver; this is the backstop. */
  private waitLimitMs(): number {
    return 2 * this.timeoutMs + 1000;
  }
}

function clientQueryable(client: PoolClient): Queryable {
  return {
    query: async <T extends object>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params.map(toParam)).catch(unavailableOr)).rows as T[],
    execute: async (sql: string, params: readonly unknown[] = []) => (await client.query(sql, params.map(toParam)).catch(unavailableOr)).rowCount ?? 0,
  };
}

/** SQLSTATE classes and codes that say the database is away or overloaded, not that the statement is wrong. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-5]|57014|58)/;
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const UNAVAILABLE_DRIVER_MESSAGES = [
  'Connection terminated',
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Client has encountered a connection error',
];

/** Rethrows `err`, as a DatabaseUnavailableError when it says the database is away. */
function unavailableOr(err: unknown): never {
  if (err instanceof DatabaseUnavailableError) throw err;
  if (err instanceof Error) {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : '';
    if (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_DRIVER_MESSAGES.some((m) => err.message.startsWith(m))) {
      throw new DatabaseUnavailableError(err);
    }
  }
  throw err;
}

function toParam(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) return JSON.stringify(value);
  return value;
}
