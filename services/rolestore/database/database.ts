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

export interface Database extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers within `timeoutMs` (its own limit by default); rejects with DatabaseUnavailableError otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}
