import { PostgresDatabase } from './postgres.database';
import { SqliteDatabase } from './sqlite.database';
import type { Database } from './database';
import { parseDatabaseUrl } from './database-url';
import { migrate } from './migrations';

/** postgres:// or postgresql:// selects PostgreSQL; sqlite:<file> SQLite; anything else is refused. */
export async function openDatabase(url: string): Promise<Database> {
  const parsed = parseDatabaseUrl(url);
  if (!parsed.ok) throw new Error(`DATABASE_URL ${parsed.problem}`);
  const { location } = parsed;
  if (location.kind === 'postgres') {
    const db = new PostgresDatabase(location.url);
    await db.prepareSchema();
    await migrate(db);
    return db;
  }
  const db = new SqliteDatabase(location.file);
  await migrate(db);
  return db;
}
