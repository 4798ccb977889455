import { randomUUID } from 'node:crypto';
import type { ChainedAuditRecord } from '#audit-chain';
import type { AuditRecordView } from '#contracts';
import { Injectable } from '@nestjs/common';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { AuditRepository } from './audit.repository';

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
@Injectable()
export class AuditService {
  constructor(
    private readonly records: AuditRepository,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Appends the event to the chain. A failure is logged loudly (the change it records has happened, or was refused). */
  async record(event: AuditEvent): Promise<void> {
    try {
      await this.records.append({
        id: randomUUID(),
        atMs: this.clock.now(),
        actor: auditText(event.actor),
        action: auditText(event.action),
        target: auditText(event.target),
        outcome: auditText(event.outcome),
        source: auditText(event.source),
        details: event.details ?? {},
      });
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

/** The longest actor, action, target, outcome or source kept: the rest of a hostile path is not worth a record's room. */
export const AUDIT_TEXT_MAX = 300;

/**
 * A field as the audit log keeps it: what a refused request named (a path with NUL bytes or
 * terminal escapes, lone surrogates) is written out visibly, so that every database stores
 * exactly the text the chain's hash was computed over, and nobody's terminal obeys it.
 */
export function auditText(value: string): string {
  // eslint-disable-next-line no-control-regex
  const visible = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const kept = visible.length > AUDIT_TEXT_MAX ? `${visible.slice(0, AUDIT_TEXT_MAX)}…` : visible;
  return kept.replace(LONE_SURROGATE, '\ufffd');
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

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
