import type { RevocationReason } from '#pki';
import type { Database, Queryable } from '../database/database';

export interface JoinTokenRow {
  token_hash: string;
  created_ms: number;
  expires_ms: number;
  used_ms: number | null;
  used_by: string | null;
  /** The only host id that may join with it; null: any host id not registered yet. */
  host_id: string | null;
}

export interface HostCertificateRow {
  host_id: string;
  serial: string;
  not_after_ms: number;
  issued_ms: number;
  /** Set by a renewal: the serial it replaced, and the certificate it issued (PEM); null after a join. */
  previous_serial?: string | null;
  renewed_certificate?: string | null;
}

/** A host certificate the plane replaced or withdrew before it expired. */
export interface RevokedCertificateRow {
  serial: string;
  host_id: string;
  not_after_ms: number;
  revoked_ms: number;
  /** Null in rows from before reasons were kept: they were all superseded. */
  reason: RevocationReason | null;
}

/** Join tokens (by their sha256 only), the certificates issued to hosts, and the host rows a join creates. */
export class JoinRepository {
  constructor(private readonly db: Database) {}

  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async insertToken(tokenHash: string, createdMs: number, expiresMs: number, hostId: string | null): Promise<void> {
    await this.db.execute('INSERT INTO join_tokens (token_hash, created_ms, expires_ms, host_id) VALUES ($1, $2, $3, $4)', [tokenHash, createdMs, expiresMs, hostId]);
  }

  async findToken(tokenHash: string): Promise<JoinTokenRow | null> {
    const rows = await this.db.query<JoinTokenRow>('SELECT * FROM join_tokens WHERE token_hash = $1', [tokenHash]);
    const row = rows[0];
    if (!row) return null;
    return { ...row, created_ms: Number(row.created_ms), expires_ms: Number(row.expires_ms), used_ms: row.used_ms === null ? null : Number(row.used_ms) };
  }

  /**
   * Marks the token used by `hostId` if it is still unused and unexpired. A token made for
   * no host in particular also claims the host id, which must have no certificate yet: a
   * certificate row with an empty serial stands for the claim until the certificate is
   * recorded. One transaction, so two joins can neither both spend one token nor both take
   * one new host id with two tokens.
   */
  async consumeToken(tokenHash: string, hostId: string, claimHostId: boolean, nowMs: number): Promise<'consumed' | 'token-gone' | 'host-taken'> {
    const lost = new Error('lost');
    try {
      return await this.db.transaction(async (tx) => {
        if (claimHostId) {
          const claimed = await tx.execute(
            `INSERT INTO host_certificates (host_id, serial, not_after_ms, issued_ms) VALUES ($1, '', 0, $2) ON CONFLICT (host_id) DO NOTHING`,
            [hostId, nowMs],
          );
          if (claimed !== 1) return 'host-taken';
        }
        const consumed = await tx.execute(
          'UPDATE join_tokens SET used_ms = $3, used_by = $2 WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $3',
          [tokenHash, hostId, nowMs],
        );
        // Rolls the claim back with it.
        if (consumed !== 1) throw lost;
        return 'consumed';
      });
    } catch (err) {
      if (err === lost) return 'token-gone';
      throw err;
    }
  }

  /** Gives back a token whose join failed after it was consumed, and the host id it claimed. */
  async releaseToken(tokenHash: string, hostId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute('UPDATE join_tokens SET used_ms = NULL, used_by = NULL WHERE token_hash = $1 AND used_by = $2', [tokenHash, hostId]);
      await tx.execute(`DELETE FROM host_certificates WHERE host_id = $1 AND serial = ''`, [hostId]);
    });
  }

  /** Forgets tokens that expired before `beforeMs`, used or not. */
  async pruneTokens(beforeMs: number): Promise<number> {
    return this.db.execute('DELETE FROM join_tokens WHERE expires_ms < $1', [beforeMs]);
  }

  async recordCertificate(tx: Queryable, row: HostCertificateRow): Promise<void> {
    await tx.execute(
      `INSERT INTO host_certificates (host_id, serial, not_after_ms, issued_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host_id) DO UPDATE SET serial = excluded.serial, not_after_ms = excluded.not_after_ms, issued_ms = excluded.issued_ms,
         previous_serial = NULL, renewed_certificate = NULL`,
      [row.host_id, row.serial, row.not_after_ms, row.issued_ms],
    );
  }

  /**
   * Records a renewed certificate (PEM) in place of the one with `previousSerial`, and keeps
   * it with that serial for a repeated request; false when that serial is no longer the host's.
   */
  async replaceCertificate(previous: { serial: string; not_after_ms: number }, row: HostCertificateRow, certificatePem: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const changed = await tx.execute(
        `UPDATE host_certificates SET serial = $2, not_after_ms = $3, issued_ms = $4, previous_serial = $5, renewed_certificate = $6
         WHERE host_id = $1 AND serial = $5`,
        [row.host_id, row.serial, row.not_after_ms, row.issued_ms, previous.serial, certificatePem],
      );
      if (changed !== 1) return false;
      await this.revokeCertificate(tx, { serial: previous.serial, host_id: row.host_id, not_after_ms: previous.not_after_ms, revoked_ms: row.issued_ms, reason: 'superseded' });
      return true;
    });
  }

  /** Lists a replaced certificate for the CRL (once: a serial is revoked for good). */
  async revokeCertificate(tx: Queryable, row: RevokedCertificateRow): Promise<void> {
    await tx.execute(
      `INSERT INTO revoked_host_certificates (serial, host_id, not_after_ms, revoked_ms, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (serial) DO NOTHING`,
      [row.serial, row.host_id, row.not_after_ms, row.revoked_ms, row.reason],
    );
  }

  /**
   * Revokes the certificate the host holds now, if it has one (not a claim's placeholder);
   * answers how many (0 or 1). A certificate superseded before and withdrawn now is withdrawn.
   */
  async revokeCurrentCertificate(tx: Queryable, hostId: string, nowMs: number, reason: RevocationReason): Promise<number> {
    return tx.execute(
      `INSERT INTO revoked_host_certificates (serial, host_id, not_after_ms, revoked_ms, reason)
       SELECT serial, host_id, not_after_ms, $2, $3 FROM host_certificates WHERE host_id = $1 AND serial <> ''
       ON CONFLICT (serial) DO ${reason === 'superseded' ? 'NOTHING' : 'UPDATE SET reason = excluded.reason'}`,
      [hostId, nowMs, reason],
    );
  }

  /** The revoked certificates that have not expired by `nowMs` (an expired one needs no listing). */
  async listRevoked(nowMs: number): Promise<RevokedCertificateRow[]> {
    const rows = await this.db.query<RevokedCertificateRow>('SELECT * FROM revoked_host_certificates WHERE not_after_ms > $1 ORDER BY revoked_ms, serial', [nowMs]);
    return rows.map((row) => ({ ...row, not_after_ms: Number(row.not_after_ms), revoked_ms: Number(row.revoked_ms), reason: row.reason ?? null }));
  }

  async findCertificate(hostId: string): Promise<HostCertificateRow | null> {
    const rows = await this.db.query<HostCertificateRow>('SELECT * FROM host_certificates WHERE host_id = $1', [hostId]);
    const row = rows[0];
    return row ? { ...row, not_after_ms: Number(row.not_after_ms), issued_ms: Number(row.issued_ms), previous_serial: row.previous_serial ?? null, renewed_certificate: row.renewed_certificate ?? null } : null;
  }

  /**
   * Whether the host may renew its certificate: known, not decommissioned, and not
   * deauthorized. An unauthorized host at generation 0 was never authorized (it waits for an
   * operator) and may; one above 0 was authorized and deauthorized since (authorize and
   * deauthorize each raise the generation, and nothing else can while it is unauthorized).
   */
  async renewalRefusal(hostId: string): Promise<string | null> {
    const rows = await this.db.query<{ state: string; generation: number; decommissioned: number }>(
      `SELECT h.state, h.generation, (SELECT COUNT(*) FROM decommissioned_hosts d WHERE d.host_id = h.id) AS decommissioned FROM hosts h WHERE h.id = $1`,
      [hostId],
    );
    const row = rows[0];
    if (!row || Number(row.decommissioned) > 0) return 'the host has been decommissioned';
    if (row.state !== 'authorized' && Number(row.generation) > 0) return 'the host has been deauthorized';
    return null;
  }

  /** A host registered again is no longer decommissioned (in the join's transaction). */
  async clearDecommissioned(tx: Queryable, hostId: string): Promise<void> {
    await tx.execute('DELETE FROM decommissioned_hosts WHERE host_id = $1', [hostId]);
  }

  /** A host that joined is listed (unauthorized) before its first heartbeat; a known host is left as it is. */
  async listHost(tx: Queryable, hostId: string, hostname: string, nowMs: number): Promise<void> {
    await tx.execute(
      `INSERT INTO hosts (id, hostname, state, generation, created_ms, updated_ms) VALUES ($1, $2, 'unauthorized', 0, $3, $3)
       ON CONFLICT (id) DO NOTHING`,
      [hostId, hostname, nowMs],
    );
  }
}
