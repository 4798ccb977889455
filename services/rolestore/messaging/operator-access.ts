import { ErrorCodes } from '#contracts';
import { ApplicationError } from '#amqp';

export interface OperatorRequest {
  transport: 'http' | 'amqp';
  /** The broker-validated user for pf9.api commands. */
  userId?: string;
}

/**
 * The one place that decides whether an operator request may proceed. Until operator
 * authentication lands, every caller is allowed, optionally narrowed to a list of broker
 * users for pf9.api (PF9_API_ALLOWED_USERS); the plane binds to 127.0.0.1 meanwhile.
 */
export class OperatorAccess {
  constructor(private readonly allowedAmqpUsers: ReadonlySet<string> | null = null) {}

  assertAllowed(request: OperatorRequest): void {
    if (request.transport === 'amqp' && this.allowedAmqpUsers !== null) {
      if (request.userId === undefined || !this.allowedAmqpUsers.has(request.userId)) {
        throw new ApplicationError(ErrorCodes.forbidden, 'this broker user may not send operator commands');
      }
    }
  }
}
