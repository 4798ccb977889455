import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { OperatorRole } from '#contracts';
import { ApplicationError, type MessageContext } from '#amqp';
import { auditSubject } from './audit-target';
import { earlyPrincipalOf } from './authenticate-before-body';
import { AuditService } from './audit.service';
import { AUDITED_KEY } from './audited.decorator';
import { assertRole, BrokerPrincipals } from './operator-access';
import { actorOf, OperatorTokensService, type Principal } from './operator-tokens.service';
import { callOf, setPrincipal } from './request-principal';
import { PUBLIC_KEY, ROLES_KEY } from './roles.decorator';
import { UnprovenRefusals } from './unproven-refusals';

/**
 * The one guard of both transports (CONTRACT.md section 8). Over HTTP the operator shows a
 * bearer token (nothing else counts: no cookie, no basic auth); over AMQP the broker-validated
 * user_id names them. The role the route or command needs (@Roles) must be included in
 * theirs. A refusal of a change (@Audited) is recorded in the audit log before it is answered.
 * An HTTP route with no @Roles and no @Public needs an admin: a route forgotten fails closed.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: OperatorTokensService,
    private readonly brokers: BrokerPrincipals,
    private readonly audit: AuditService,
    private readonly unproven: UnprovenRefusals,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true) return true;
    const declared = this.reflector.getAllAndOverride<OperatorRole | undefined>(ROLES_KEY, targets);
    const http = context.getType() === 'http';
    // Host events on the bus carry no @Roles: hosts are checked as senders, not operators.
    if (declared === undefined && !http) return true;
    const needed = declared ?? 'admin';
    let principal: Principal | undefined;
    try {
      if (http) {
        const req = context.switchToHttp().getRequest<Request>();
        principal = earlyPrincipalOf(req) ?? (await this.tokens.authenticate(req.headers.authorization));
      } else {
        principal = this.brokers.of(context.switchToRpc().getContext<MessageContext>().userId);
      }
      assertRole(principal, needed);
    } catch (err) {
      await this.recordRefusal(context, principal, err);
      throw err;
    }
    setPrincipal(callOf(context), principal);
    return true;
  }

  private async recordRefusal(context: ExecutionContext, principal: Principal | undefined, err: unknown): Promise<void> {
    const action = this.reflector.get<string | undefined>(AUDITED_KEY, context.getHandler());
    if (action === undefined || !(err instanceof ApplicationError)) return;
    const subject = auditSubject(context, action);
    const event = {
      actor: principal === undefined ? unprovenActor(context) : actorOf(principal),
      action,
      target: subject.target,
      outcome: err.code,
      source: subject.source,
      details: { message: err.message },
    };
    // Who proved no identity over HTTP is recorded one by one only up to a bound (unproven-refusals.ts).
    if (principal === undefined && context.getType() === 'http' && !this.unproven.admit(event)) return;
    await this.audit.record(event);
  }
}

/**
 * Who a refusal is recorded as when no identity was proven (CONTRACT.md section 8's actors):
 * `token:anonymous` (no bearer token), `token:invalid` (one that is unknown, expired or
 * revoked; its secret is never recorded), or `amqp:<user_id or anonymous>`.
 */
export function unprovenActor(context: ExecutionContext): string {
  if (context.getType() === 'http') return context.switchToHttp().getRequest<Request>().headers.authorization === undefined ? 'token:anonymous' : 'token:invalid';
  return `amqp:${context.switchToRpc().getContext<MessageContext>().userId ?? 'anonymous'}`;
}
