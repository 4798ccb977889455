import { AUDIT_GENESIS_HASH, auditRecordHash, type ChainedAuditRecord } from '#audit-chain';
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database';

/** What is recorded: the chain (seq, prevHash, hash) is added by the repository. */
export interface AuditEntry {
  id: string;
  atMs: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  source: string;
  details: Record<string, unknown>;
}

interface AuditRow {
  seq: number | string;
  id: string;
  at_ms: number | string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  source: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** Two role stores on one PostgreSQL append one after the other: the chain never forks. */
const AUDIT_APPEND_LOCK = 7091002;

/**
 * The audit log: append and read, nothing else. No statement here (or anywhere in the
 * project) updates or deletes a record; the hash chain shows any change made behind its back.
 */
@Injectable()
export class AuditRepository {
  constructor(private readonly db: Database) {}

  async append(entry: AuditEntry): Promise<ChainedAuditRecord> {
    return this.db.transaction(async (tx) => {
      if (this.db.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_APPEND_LOCK]);
      const last = (await tx.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'))[0];
      const seq = last === undefined ? 1 : Number(last.seq) + 1;
      const prevHash = last === undefined ? AUDIT_GENESIS_HASH : last.hash;
      const fields = { seq, id: entry.id, at: new Date(entry.atMs).toISOString(), actor: entry.actor, action: entry.action, target: entry.target, outcome: entry.outcome, source: entry.source, details: entry.details };
      const hash = auditRecordHash(prevHash, fields);
      await tx.execute(
        'INSERT INTO audit_log (seq, id, at_ms, actor, action, target, outcome, source, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [seq, entry.id, entry.atMs, entry.actor, entry.action, entry.target, entry.outcome, entry.source, JSON.stringify(entry.details), prevHash, hash],
      );
      return { ...fields, prevHash, hash };
    });
  }

  /** Oldest first: from a time (sinceMs) and/or after a record (afterSeq), at most `limit`. */
  async list(query: { sinceMs?: number; afterSeq?: number; limit: number }): Promise<ChainedAuditRecord[]> {
    const rows = await this.db.query<AuditRow>('SELECT * FROM audit_log WHERE at_ms >= $1 AND seq > $2 ORDER BY seq LIMIT $3', [query.sinceMs ?? 0, query.afterSeq ?? 0, query.limit]);
    return rows.map(toRecord);
  }
}

function toRecord(row: AuditRow): ChainedAuditRecord {
  let details: Record<string, unknown>;
  try {
    const parsed = JSON.parse(row.details) as unknown;
    details = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
  } catch {
    // A record edited into something that is not JSON: shown as it is, and the chain says it changed.
    details = { unreadable: row.details };
  }
  return {
    seq: Number(row.seq),
    id: row.id,
    at: new Date(Number(row.at_ms)).toISOString(),
    actor: row.actor,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    source: row.source,
    details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
