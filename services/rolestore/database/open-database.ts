import { PostgresDatabase } from './postgres.database';
import { SqliteDatabase } from './sqlite.database';
import type { Database } from './database';
import { migrate } from './migrations';

/**
 * postgres:// or postgresql:// selects PostgreSQL; sqlite:<file> (or a bare path) SQLite.
 * `timeoutMs` bounds every wait on the database (a connection, a statement, a lock).
 */
export async function openDatabase(url: string, options: { timeoutMs?: number } = {}): Promise<Database> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const db = new PostgresDatabase(url, { timeoutMs: options.timeoutMs });
    await db.prepareSchema();
    await migrate(db);
    return db;
  }
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  const db = new SqliteDatabase(file, { timeoutMs: options.timeoutMs });
  await migrate(db);
  return db;
}
