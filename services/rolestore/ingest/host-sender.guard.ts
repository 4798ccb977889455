import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ErrorCodes, hostBrokerUser } from '#contracts';
import { ApplicationError, type MessageContext } from '#amqp';
import { RolestoreConfig } from '../config/rolestore.config';

/**
 * Every host event passes here: a host speaks only for itself (assertSender). A refusal is
 * FORBIDDEN, answered where the event asked for a reply, and not dead-lettered (the message
 * was well formed; its sender was not the host it names).
 */
@Injectable()
export class HostSenderGuard implements CanActivate {
  /** Hosts have their own broker users: every host event must carry the sender's user_id. */
  private readonly requireBrokerUser: boolean;

  constructor(config: RolestoreConfig) {
    this.requireBrokerUser = config.hostBrokerUsers === 'on' && config.insecureSharedBrokerUser === undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    const rpc = context.switchToRpc();
    assertSender(rpc.getData<{ hostId: string }>().hostId, rpc.getContext<MessageContext>(), this.requireBrokerUser);
    return true;
  }
}

/**
 * A host speaks only for itself. The sender is who the broker says it is: the
 * broker-validated user_id (pf9-host-<id>) when there is one, and it must be there when
 * hosts have their own broker users; the routing key's host segment (which the broker's
 * topic permissions hold to the sender's own) must name the same host as the body.
 */
export function assertSender(hostId: string, context: MessageContext, requireBrokerUser = false): void {
  const segment = context.routingKey.split('.')[1];
  if (segment !== hostId) {
    throw new ApplicationError(ErrorCodes.forbidden, `host ${String(segment)} may not speak for host ${hostId}`);
  }
  if (context.userId !== undefined || requireBrokerUser) {
    if (context.userId !== hostBrokerUser(hostId)) {
      throw new ApplicationError(ErrorCodes.forbidden, `broker user ${String(context.userId)} may not speak for host ${hostId}`);
    }
  }
}
