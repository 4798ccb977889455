import { PostgresDatabase } from './postgres.database';
import { SqliteDatabase } from './sqlite.database';
import type { Database } from './database';
import { parseDatabaseUrl } from './database-url';
import { migrate } from './migrations';

/**
 * postgres:// or postgresql:// selects PostgreSQL; sqlite:<file> SQLite; anything else is refused.
 * `timeoutMs` bounds every wait on the database (a connection, a statement, a lock).
 */
export async function openDatabase(url: string, options: { timeoutMs?: number } = {}): Promise<Database> {
  const parsed = parseDatabaseUrl(url);
  if (!parsed.ok) throw new Error(`DATABASE_URL ${parsed.problem}`);
  const { location } = parsed;
  if (location.kind === 'postgres') {
    const db = new PostgresDatabase(location.url, { timeoutMs: options.timeoutMs });
    await db.prepareSchema();
    await migrate(db);
    return db;
  }
  const db = new SqliteDatabase(location.file, { timeoutMs: options.timeoutMs });
  await migrate(db);
  return db;
}
