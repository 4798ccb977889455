import { ErrorCodes, roleAllows, type OperatorRole } from '#contracts';
import { ApplicationError } from '#amqp';
import type { Principal } from './operator-tokens.service';

/**
 * Who may send pf9.api commands (CONTRACT.md section 8): a message that carries user_id
 * (validated by the broker) acts with the role PF9_OPERATOR_BROKER_USERS gives that user, and
 * is refused with FORBIDDEN when it gives none; one without user_id acts with
 * PF9_API_ANONYMOUS_ROLE (`none` refuses it).
 */
export class BrokerPrincipals {
  constructor(
    private readonly users: ReadonlyMap<string, OperatorRole>,
    private readonly anonymousRole: OperatorRole | 'none',
  ) {}

  of(userId: string | undefined): Principal {
    if (userId === undefined) {
      if (this.anonymousRole === 'none') throw new ApplicationError(ErrorCodes.unauthenticated, 'this plane takes no command without a user_id (PF9_API_ANONYMOUS_ROLE=none)');
      return { kind: 'amqp', userId: undefined, role: this.anonymousRole };
    }
    const role = this.users.get(userId);
    if (role === undefined) throw new ApplicationError(ErrorCodes.forbidden, `broker user ${userId} may not send operator commands (PF9_OPERATOR_BROKER_USERS names no role for it)`);
    return { kind: 'amqp', userId, role };
  }
}

/** The one check of a role: the principal's must include the one needed. */
export function assertRole(principal: Principal, needed: OperatorRole): void {
  if (!roleAllows(principal.role, needed)) {
    throw new ApplicationError(ErrorCodes.forbidden, `a ${principal.role} may not do this: it needs the ${needed} role`);
  }
}
