/**
 * What the repositories need of a database: parameterised SQL ($1, $2 …) and transactions.
 * Every call has a time limit; a database that is away or does not answer in time rejects
 * with DatabaseUnavailableError, whatever the dialect.
 */
export interface Queryable {
  query<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** The role store's database (PostgreSQL or SQLite); a class, so that it is injected by its type. */
export abstract class Database implements Queryable {
  abstract readonly dialect: 'sqlite' | 'postgres';
  abstract query<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  abstract execute(sql: string, params?: readonly unknown[]): Promise<number>;
  abstract transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers within `timeoutMs` (its own limit by default); rejects with DatabaseUnavailableError otherwise. */
  abstract ping(timeoutMs?: number): Promise<void>;
  abstract close(): Promise<void>;
}
