import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, mergeMap, type Observable } from 'rxjs';
import { ErrorCodes } from '#contracts';
import { ApplicationError } from '#amqp';
import { auditSubject, targetOf } from './audit-target';
import { AuditService, type AuditEvent } from './audit.service';
import { AUDITED_KEY } from './audited.decorator';
import { unprovenActor } from './operator.guard';
import { actorOf } from './operator-tokens.service';
import { callOf, principalOf } from './request-principal';

/**
 * The one audit interceptor of both transports: every call of an @Audited handler that the
 * guard let through is recorded once, with how it ended (`ok`, or the error code), before it
 * is answered. (Refusals by the guard itself are recorded there: an interceptor never sees them.)
 * A re-sent pf9.api command with a message_id already answered never reaches a handler, so it
 * is not recorded twice.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const action = this.reflector.get<string | undefined>(AUDITED_KEY, context.getHandler());
    if (action === undefined) return next.handle();
    const principal = principalOf(callOf(context));
    const subject = auditSubject(context, action);
    const event = (outcome: string, target: string, details: Record<string, unknown>): AuditEvent => ({
      actor: principal === undefined ? unprovenActor(context) : actorOf(principal),
      action,
      target,
      outcome,
      source: subject.source,
      details,
    });
    return next.handle().pipe(
      // The handler's failure, recorded; the caller gets the handler's own error whatever the record did.
      catchError((err: unknown) => {
        const code = err instanceof ApplicationError ? err.code : ErrorCodes.internal;
        const message = err instanceof Error ? err.message : String(err);
        const refuse = (): Promise<never> => Promise.reject(err);
        return from(this.audit.record(event(code, subject.target, { message })).then(refuse, refuse));
      }),
      // Done: recorded as ok. The change has happened, so a record that cannot be written (logged
      // loudly by the audit service) does not turn the answer into a failure, nor a second record.
      mergeMap((result: unknown) =>
        from(
          this.audit.record(event('ok', targetOf(action, subject.input, result), resultDetails(result))).then(
            () => result,
            () => result,
          ),
        ),
      ),
    );
  }
}

/** What a result says worth keeping (never a secret: a new token's `token` is left out). */
function resultDetails(result: unknown): Record<string, unknown> {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return {};
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    if (key === 'token' || key === 'password') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) kept[key] = value;
  }
  return kept;
}
