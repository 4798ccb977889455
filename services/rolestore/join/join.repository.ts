import { Injectable } from '@nestjs/common';
import type { HostState } from '#contracts';
import type { RevocationReason } from '#pki';
import { Database, type Queryable } from '../database/database';

export interface JoinToken {
  tokenHash: string;
  createdMs: number;
  expiresMs: number;
  usedMs: number | null;
  usedBy: string | null;
  /** The only host id that may join with it; null: any host id not registered yet. */
  hostId: string | null;
}

export interface HostCertificate {
  hostId: string;
  serial: string;
  notAfterMs: number;
  issuedMs: number;
  /** Set by a renewal: the serial it replaced, and the certificate it issued (PEM); null after a join. */
  previousSerial: string | null;
  renewedCertificate: string | null;
}

/** A host certificate the plane replaced or withdrew before it expired. */
export interface RevokedCertificate {
  serial: string;
  hostId: string;
  notAfterMs: number;
  revokedMs: number;
  /** Null in rows from before reasons were kept: they were all superseded. */
  reason: RevocationReason | null;
}

/** What renewal asks of a host: is it known, decommissioned, in which state, at which generation. */
export interface HostStanding {
  state: HostState;
  generation: number;
  decommissioned: boolean;
}

interface JoinTokenRow {
  token_hash: string;
  created_ms: number;
  expires_ms: number;
  used_ms: number | null;
  used_by: string | null;
  host_id: string | null;
}

interface HostCertificateRow {
  host_id: string;
  serial: string;
  not_after_ms: number;
  issued_ms: number;
  previous_serial: string | null;
  renewed_certificate: string | null;
}

interface RevokedCertificateRow {
  serial: string;
  host_id: string;
  not_after_ms: number;
  revoked_ms: number;
  reason: RevocationReason | null;
}

/** Join tokens (by their sha256 only), the certificates issued to hosts, and the host rows a join creates. */
@Injectable()
export class JoinRepository {
  constructor(private readonly db: Database) {}

  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async insertToken(tokenHash: string, createdMs: number, expiresMs: number, hostId: string | null): Promise<void> {
    await this.db.execute('INSERT INTO join_tokens (token_hash, created_ms, expires_ms, host_id) VALUES ($1, $2, $3, $4)', [tokenHash, createdMs, expiresMs, hostId]);
  }

  async findToken(tokenHash: string): Promise<JoinToken | null> {
    const rows = await this.db.query<JoinTokenRow>('SELECT * FROM join_tokens WHERE token_hash = $1', [tokenHash]);
    const row = rows[0];
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      createdMs: Number(row.created_ms),
      expiresMs: Number(row.expires_ms),
      usedMs: row.used_ms === null ? null : Number(row.used_ms),
      usedBy: row.used_by,
      hostId: row.host_id,
    };
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

  /** A certificate issued at a join (no renewal behind it). */
  async recordCertificate(tx: Queryable, issued: IssuedCertificate): Promise<void> {
    await tx.execute(
      `INSERT INTO host_certificates (host_id, serial, not_after_ms, issued_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host_id) DO UPDATE SET serial = excluded.serial, not_after_ms = excluded.not_after_ms, issued_ms = excluded.issued_ms,
         previous_serial = NULL, renewed_certificate = NULL`,
      [issued.hostId, issued.serial, issued.notAfterMs, issued.issuedMs],
    );
  }

  /**
   * Records a renewed certificate (PEM) in place of the one with `previousSerial`, and keeps
   * it with that serial for a repeated request; false when that serial is no longer the host's.
   */
  async replaceCertificate(previous: { serial: string; notAfterMs: number }, issued: IssuedCertificate, certificatePem: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const changed = await tx.execute(
        `UPDATE host_certificates SET serial = $2, not_after_ms = $3, issued_ms = $4, previous_serial = $5, renewed_certificate = $6
         WHERE host_id = $1 AND serial = $5`,
        [issued.hostId, issued.serial, issued.notAfterMs, issued.issuedMs, previous.serial, certificatePem],
      );
      if (changed !== 1) return false;
      await this.revokeCertificate(tx, { serial: previous.serial, hostId: issued.hostId, notAfterMs: previous.notAfterMs, revokedMs: issued.issuedMs, reason: 'superseded' });
      return true;
    });
  }

  /** Lists a replaced certificate for the CRL (once: a serial is revoked for good). */
  async revokeCertificate(tx: Queryable, revoked: RevokedCertificate): Promise<void> {
    await tx.execute(
      `INSERT INTO revoked_host_certificates (serial, host_id, not_after_ms, revoked_ms, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (serial) DO NOTHING`,
      [revoked.serial, revoked.hostId, revoked.notAfterMs, revoked.revokedMs, revoked.reason],
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
  async listRevoked(nowMs: number): Promise<RevokedCertificate[]> {
    const rows = await this.db.query<RevokedCertificateRow>('SELECT * FROM revoked_host_certificates WHERE not_after_ms > $1 ORDER BY revoked_ms, serial', [nowMs]);
    return rows.map((row) => ({ serial: row.serial, hostId: row.host_id, notAfterMs: Number(row.not_after_ms), revokedMs: Number(row.revoked_ms), reason: row.reason ?? null }));
  }

  async findCertificate(hostId: string): Promise<HostCertificate | null> {
    const rows = await this.db.query<HostCertificateRow>('SELECT * FROM host_certificates WHERE host_id = $1', [hostId]);
    const row = rows[0];
    if (!row) return null;
    return {
      hostId: row.host_id,
      serial: row.serial,
      notAfterMs: Number(row.not_after_ms),
      issuedMs: Number(row.issued_ms),
      previousSerial: row.previous_serial ?? null,
      renewedCertificate: row.renewed_certificate ?? null,
    };
  }

  /** The host's record as renewal needs it, or null when the plane has none (never joined, or decommissioned). */
  async standing(hostId: string): Promise<HostStanding | null> {
    const rows = await this.db.query<{ state: HostState; generation: number; decommissioned: number }>(
      `SELECT h.state, h.generation, (SELECT COUNT(*) FROM decommissioned_hosts d WHERE d.host_id = h.id) AS decommissioned FROM hosts h WHERE h.id = $1`,
      [hostId],
    );
    const row = rows[0];
    return row ? { state: row.state, generation: Number(row.generation), decommissioned: Number(row.decommissioned) > 0 } : null;
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

/** A certificate the plane has just issued to a host. */
export type IssuedCertificate = Pick<HostCertificate, 'hostId' | 'serial' | 'notAfterMs' | 'issuedMs'>;
