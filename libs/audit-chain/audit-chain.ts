import { createHash } from 'node:crypto';

/**
 * The audit log is a hash chain: each record carries the hash of the one before it, and its
 * own hash covers that and every field of the record. A record changed or removed behind the
 * plane's back (in the database itself) breaks the chain at that point, which anyone holding
 * the records can check: the plane when it appends, `hostplane audit verify` from the API.
 */

/** What a record says; the chain's hashes cover exactly these fields. */
export interface AuditFields {
  /** Position in the chain, from 1. */
  seq: number;
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  source: string;
  details: Record<string, unknown>;
}

export interface ChainedAuditRecord extends AuditFields {
  prevHash: string;
  hash: string;
}

/** The prevHash of the first record. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The hash a record must carry after `prevHash`: SHA-256 over the previous hash and the record's canonical JSON. */
export function auditRecordHash(prevHash: string, fields: AuditFields): string {
  const canonical = canonicalJson({
    seq: fields.seq,
    id: fields.id,
    at: fields.at,
    actor: fields.actor,
    action: fields.action,
    target: fields.target,
    outcome: fields.outcome,
    source: fields.source,
    details: fields.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}

export type ChainCheck =
  | { ok: true; checked: number; head: { seq: number; hash: string } | null }
  | { ok: false; checked: number; seq: number; problem: string };

/**
 * Checks records in order (oldest first), optionally continuing from a known earlier record:
 * every hash recomputed, every prevHash the hash before it, no seq skipped.
 */
export function verifyAuditChain(records: readonly ChainedAuditRecord[], after: { seq: number; hash: string } = { seq: 0, hash: AUDIT_GENESIS_HASH }): ChainCheck {
  let previous = after;
  let checked = 0;
  for (const record of records) {
    if (record.seq !== previous.seq + 1) {
      return { ok: false, checked, seq: record.seq, problem: record.seq > previous.seq + 1 ? `records ${previous.seq + 1}–${record.seq - 1} are missing` : `record ${record.seq} is out of order` };
    }
    if (record.prevHash !== previous.hash) return { ok: false, checked, seq: record.seq, problem: `record ${record.seq} does not follow record ${previous.seq}: it names another hash before it` };
    if (auditRecordHash(record.prevHash, record) !== record.hash) return { ok: false, checked, seq: record.seq, problem: `record ${record.seq} was changed after it was written: its hash does not match its contents` };
    previous = { seq: record.seq, hash: record.hash };
    checked++;
  }
  return { ok: true, checked, head: checked === 0 && after.seq === 0 ? null : previous };
}

/** JSON with object keys sorted at every level: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
