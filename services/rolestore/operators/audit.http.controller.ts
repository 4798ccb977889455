import { Controller, Get, Query } from '@nestjs/common';
import { ErrorCodes, type AuditRecordView } from '#contracts';
import { ApplicationError } from '#amqp';
import { AUDIT_PAGE_MAX, AuditService } from './audit.service';
import { Roles } from './roles.decorator';

/** `GET /v1/audit?since=<ISO time>&limit=<n>` (operator), oldest first; `afterSeq=<n>` pages by position. */
@Controller('v1/audit')
@Roles('operator')
export class AuditHttpController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  list(@Query('since') since?: unknown, @Query('limit') limit?: unknown, @Query('afterSeq') afterSeq?: unknown): Promise<AuditRecordView[]> {
    return this.audit.list({ sinceMs: sinceOf(since), limit: integerOf(limit, 'limit', 1, AUDIT_PAGE_MAX), afterSeq: integerOf(afterSeq, 'afterSeq', 0, Number.MAX_SAFE_INTEGER) });
  }
}

function sinceOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new ApplicationError(ErrorCodes.validationFailed, 'since must be an ISO time, e.g. 2026-12-07T10:00:00Z');
  return ms;
}

function integerOf(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ApplicationError(ErrorCodes.validationFailed, `${name} must be a whole number from ${min} to ${max}`);
  return n;
}
