import type { Database, Queryable } from '../database/database';

export interface RoleVersionRow {
  name: string;
  version: string;
  sha256: string;
  size_bytes: number;
  manifest: string;
  uploaded_ms: number;
}

export class RoleVersionsRepository {
  constructor(private readonly db: Database) {}

  /** Answers false when that name and version exist already. */
  async insert(row: RoleVersionRow): Promise<boolean> {
    const changed = await this.db.execute(
      `INSERT INTO role_versions (name, version, sha256, size_bytes, manifest, uploaded_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name, version) DO NOTHING`,
      [row.name, row.version, row.sha256, row.size_bytes, row.manifest, row.uploaded_ms],
    );
    return changed > 0;
  }

  async find(name: string, version: string, tx: Queryable = this.db): Promise<RoleVersionRow | null> {
    const rows = await tx.query<RoleVersionRow>('SELECT * FROM role_versions WHERE name = $1 AND version = $2', [name, version]);
    return rows[0] ?? null;
  }

  async versionsOf(name: string, tx: Queryable = this.db): Promise<RoleVersionRow[]> {
    return tx.query<RoleVersionRow>('SELECT * FROM role_versions WHERE name = $1', [name]);
  }

  async all(): Promise<RoleVersionRow[]> {
    return this.db.query<RoleVersionRow>('SELECT * FROM role_versions ORDER BY name, uploaded_ms');
  }
}
