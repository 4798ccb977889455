import { Injectable } from '@nestjs/common';
import type { RoleManifest } from '#contracts';
import { Database, type Queryable } from '../database/database';

/** An uploaded version of a role: its package's digest and size, and its manifest. */
export interface RoleVersion {
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  manifest: RoleManifest;
  uploadedMs: number;
}

interface RoleVersionRow {
  name: string;
  version: string;
  sha256: string;
  size_bytes: number;
  manifest: string;
  uploaded_ms: number;
}

@Injectable()
export class RoleVersionsRepository {
  constructor(private readonly db: Database) {}

  /** Answers false when that name and version exist already. */
  async insert(role: RoleVersion): Promise<boolean> {
    const changed = await this.db.execute(
      `INSERT INTO role_versions (name, version, sha256, size_bytes, manifest, uploaded_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name, version) DO NOTHING`,
      [role.name, role.version, role.sha256, role.sizeBytes, JSON.stringify(role.manifest), role.uploadedMs],
    );
    return changed > 0;
  }

  async find(name: string, version: string, tx: Queryable = this.db): Promise<RoleVersion | null> {
    const rows = await tx.query<RoleVersionRow>('SELECT * FROM role_versions WHERE name = $1 AND version = $2', [name, version]);
    return rows[0] ? roleVersionOf(rows[0]) : null;
  }

  async versionsOf(name: string, tx: Queryable = this.db): Promise<RoleVersion[]> {
    return (await tx.query<RoleVersionRow>('SELECT * FROM role_versions WHERE name = $1', [name])).map(roleVersionOf);
  }

  async all(): Promise<RoleVersion[]> {
    return (await this.db.query<RoleVersionRow>('SELECT * FROM role_versions ORDER BY name, uploaded_ms')).map(roleVersionOf);
  }
}

function roleVersionOf(row: RoleVersionRow): RoleVersion {
  return {
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    sizeBytes: Number(row.size_bytes),
    manifest: JSON.parse(row.manifest) as RoleManifest,
    uploadedMs: Number(row.uploaded_ms),
  };
}
