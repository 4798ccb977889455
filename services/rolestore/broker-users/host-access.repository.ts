import { Injectable } from '@nestjs/common';
import { Database, type Queryable } from '../database/database';

/** What a host's own broker user should be allowed: its queue and keys, for a while longer, or nothing. */
export type HostAccess = { access: 'granted' } | { access: 'revoking'; revokeAfterMs: number } | { access: 'revoked' };

/** A host's recorded access, and how many of its roles are still listed (being removed ones too). */
export type HostAccessRecord = HostAccess & { hostId: string; rolesLeft: number };

interface HostAccessRow {
  host_id: string;
  access: HostAccess['access'];
  revoke_after_ms: number | null;
  roles_left: number;
}

/** The broker access each host should have (host_broker_access). */
@Injectable()
export class HostAccessRepository {
  constructor(private readonly db: Database) {}

  async record(hostId: string, access: HostAccess, now: number): Promise<void> {
    await this.db.execute(
      `INSERT INTO host_broker_access (host_id, access, revoke_after_ms, updated_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host_id) DO UPDATE SET access = excluded.access, revoke_after_ms = excluded.revoke_after_ms, updated_ms = excluded.updated_ms`,
      [hostId, access.access, access.access === 'revoking' ? access.revokeAfterMs : null, now],
    );
  }

  /** Records the host revoked if it is being revoked; answers whether it was (and so is to be cut off). */
  async revokeIfRevoking(hostId: string, now: number): Promise<boolean> {
    const changed = await this.db.execute(
      `UPDATE host_broker_access SET access = 'revoked', revoke_after_ms = NULL, updated_ms = $2 WHERE host_id = $1 AND access = 'revoking'`,
      [hostId, now],
    );
    return changed === 1;
  }

  /** Hosts with recorded access, and decommissioned hosts whose broker user is still to be deleted. */
  async hostIds(): Promise<string[]> {
    const rows = await this.db.query<{ host_id: string }>(
      'SELECT host_id FROM host_broker_access UNION SELECT host_id FROM decommissioned_hosts WHERE broker_user_deleted = 0 ORDER BY host_id',
    );
    return rows.map((row) => row.host_id);
  }

  /** The host is decommissioned (in the caller's transaction): no access recorded any more, its user to be deleted. */
  async decommission(tx: Queryable, hostId: string, now: number): Promise<void> {
    await tx.execute('DELETE FROM host_broker_access WHERE host_id = $1', [hostId]);
    await tx.execute(
      `INSERT INTO decommissioned_hosts (host_id, decommissioned_ms, broker_user_deleted) VALUES ($1, $2, 0)
       ON CONFLICT (host_id) DO UPDATE SET decommissioned_ms = excluded.decommissioned_ms, broker_user_deleted = 0`,
      [hostId, now],
    );
  }

  /** Whether the host is decommissioned and its broker user not yet deleted. */
  async userToDelete(hostId: string): Promise<boolean> {
    const rows = await this.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM decommissioned_hosts WHERE host_id = $1 AND broker_user_deleted = 0', [hostId]);
    return Number(rows[0]?.n ?? 0) > 0;
  }

  async userDeleted(hostId: string): Promise<void> {
    await this.db.execute('UPDATE decommissioned_hosts SET broker_user_deleted = 1 WHERE host_id = $1', [hostId]);
  }

  /** Whether the host has a broker user of its own (its access is recorded). */
  async hasOwnUser(hostId: string): Promise<boolean> {
    const rows = await this.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM host_broker_access WHERE host_id = $1', [hostId]);
    return Number(rows[0]?.n ?? 0) > 0;
  }

  async find(hostId: string): Promise<HostAccessRecord | null> {
    const rows = await this.db.query<HostAccessRow>(
      `SELECT a.host_id, a.access, a.revoke_after_ms, (SELECT COUNT(*) FROM host_roles r WHERE r.host_id = a.host_id) AS roles_left
       FROM host_broker_access a WHERE a.host_id = $1`,
      [hostId],
    );
    const row = rows[0];
    if (!row) return null;
    const common = { hostId: row.host_id, rolesLeft: Number(row.roles_left) };
    if (row.access === 'revoking') return { ...common, access: 'revoking', revokeAfterMs: Number(row.revoke_after_ms) };
    return { ...common, access: row.access };
  }
}
