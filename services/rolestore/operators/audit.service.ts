import { randomUUID } from 'node:crypto';
import type { ChainedAuditRecord } from '#audit-chain';
import type { AuditRecordView } from '#contracts';
import type { Logger } from '#logging';
import type { AuditRepository } from './audit.repository';

/** One change, allowed or refused, as the audit log keeps it. */
export interface AuditEvent {
  /** `token:<name>` or `amqp:<user_id or anonymous>`; `unauthenticated` when no identity was shown. */
  actor: string;
  /** The command kind: role.assign, host.authorize, token.create, … */
  action: string;
  /** What it was about: host/<id>, host/<id>/role/<name>, token/<id>, role/<name>/<version>, … */
  target: string;
  /** `ok`, or the error code it ended with. */
  outcome: string;
  /** Where it came from: `http:<address>` or `amqp:<user_id or anonymous>`. */
  source: string;
  details?: Record<string, unknown>;
}

/** The most of one audit query: `hostplane audit verify` pages through the rest. */
export const AUDIT_PAGE_MAX = 1000;

/** Every change and every refused attempt is recorded once; records are never changed or deleted. */
export class AuditService {
  constructor(
    private readonly records: AuditRepository,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Appends the event to the chain. A failure is logged loudly (the change it records has happened, or was refused). */
  async record(event: AuditEvent): Promise<void> {
    try {
      await this.records.append({ id: randomUUID(), atMs: this.clock(), ...event, details: event.details ?? {} });
    } catch (err) {
      this.logger.error('could not write an audit record', { ...event, err: String(err) });
      throw err;
    }
  }

  async list(query: { sinceMs?: number; afterSeq?: number; limit?: number }): Promise<AuditRecordView[]> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), AUDIT_PAGE_MAX);
    return (await this.records.list({ sinceMs: query.sinceMs, afterSeq: query.afterSeq, limit })).map(view);
  }
}

function view(record: ChainedAuditRecord): AuditRecordView {
  return {
    id: record.id,
    at: record.at,
    actor: record.actor,
    action: record.action,
    target: record.target,
    outcome: record.outcome,
    details: record.details,
    seq: record.seq,
    source: record.source,
    prevHash: record.prevHash,
    hash: record.hash,
  };
}
