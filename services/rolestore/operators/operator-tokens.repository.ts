import { Injectable } from '@nestjs/common';
import type { OperatorRole } from '#contracts';
import { Database } from '../database/database';

/** An operator token as the plane keeps it: never the secret, only its hash. */
export interface OperatorToken {
  id: string;
  name: string;
  role: OperatorRole;
  createdMs: number;
  expiresMs: number | null;
  revokedMs: number | null;
  /** Who made it: `token:<name>` of an admin, or `plane` for the first admin token. */
  createdBy: string;
}

interface OperatorTokenRow {
  id: string;
  name: string;
  role: OperatorRole;
  created_ms: number | string;
  expires_ms: number | string | null;
  revoked_ms: number | string | null;
  created_by: string;
}

const COLUMNS = 'id, name, role, created_ms, expires_ms, revoked_ms, created_by';

/** Operator tokens (CONTRACT.md section 8), by their sha256. */
@Injectable()
export class OperatorTokensRepository {
  constructor(private readonly db: Database) {}

  async insert(token: OperatorToken, tokenHash: string): Promise<void> {
    await this.db.execute('INSERT INTO operator_tokens (id, name, role, token_hash, created_ms, expires_ms, revoked_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)', [
      token.id,
      token.name,
      token.role,
      tokenHash,
      token.createdMs,
      token.expiresMs,
      token.createdBy,
    ]);
  }

  async findByHash(tokenHash: string): Promise<OperatorToken | null> {
    const rows = await this.db.query<OperatorTokenRow>(`SELECT ${COLUMNS} FROM operator_tokens WHERE token_hash = $1`, [tokenHash]);
    return rows[0] === undefined ? null : toToken(rows[0]);
  }

  async find(id: string): Promise<OperatorToken | null> {
    const rows = await this.db.query<OperatorTokenRow>(`SELECT ${COLUMNS} FROM operator_tokens WHERE id = $1`, [id]);
    return rows[0] === undefined ? null : toToken(rows[0]);
  }

  async list(): Promise<OperatorToken[]> {
    return (await this.db.query<OperatorTokenRow>(`SELECT ${COLUMNS} FROM operator_tokens ORDER BY created_ms, id`)).map(toToken);
  }

  /** Revokes it unless it was already; answers the token as it is now, or null when there is none. */
  async revoke(id: string, nowMs: number): Promise<OperatorToken | null> {
    await this.db.execute('UPDATE operator_tokens SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL', [id, nowMs]);
    return this.find(id);
  }

  /** Whether an admin token can still be used (not revoked, not expired). */
  async hasUsableAdmin(nowMs: number): Promise<boolean> {
    const rows = await this.db.query<{ id: string }>(
      "SELECT id FROM operator_tokens WHERE role = 'admin' AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1) LIMIT 1",
      [nowMs],
    );
    return rows.length > 0;
  }
}

function toToken(row: OperatorTokenRow): OperatorToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdMs: Number(row.created_ms),
    expiresMs: row.expires_ms === null ? null : Number(row.expires_ms),
    revokedMs: row.revoked_ms === null ? null : Number(row.revoked_ms),
    createdBy: row.created_by,
  };
}
