import { Injectable } from '@nestjs/common';
import { Exchanges, HOST_DESIRED_STATE, RoutingKeys, type HostDesiredStateControl } from '#contracts';
import { AmqpConnection, UnroutableError } from '#amqp';
import { Logger } from '#logging';
import type { Queryable } from '../database/database';
import { HostsRepository } from '../hosts/hosts.repository';
import { RoleVersionsRepository } from '../roles/role-versions.repository';

/** Builds a host's whole desired state and sends it to the host's queue over pf9.control. */
@Injectable()
export class DesiredStatePublisher {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly versions: RoleVersionsRepository,
    private readonly connection: AmqpConnection,
    private readonly logger: Logger,
  ) {}

  async build(hostId: string, tx?: Queryable): Promise<HostDesiredStateControl> {
    const host = await this.hosts.find(hostId, tx);
    if (!host) return { hostId, state: 'unauthorized', generation: 0, roles: [] };
    const roles: HostDesiredStateControl['roles'] = [];
    if (host.state === 'authorized') {
      for (const role of await this.hosts.roles(hostId, tx)) {
        if (!role.assigned) continue;
        const version = await this.versions.find(role.role, role.version, tx);
        if (!version) continue;
        roles.push({
          name: role.role,
          version: role.version,
          sha256: version.sha256,
          config: role.config,
          generation: role.desiredGeneration,
          // Only once an operator asked: agents that predate it see the document they know.
          ...(role.retry > 0 ? { retry: role.retry } : {}),
        });
      }
    }
    return { hostId, state: host.state, generation: host.generation, roles };
  }

  /**
   * Sends the state; a failure is logged, not thrown: the change is committed, and the
   * host catches up at its next sync.
   */
  async publish(state: HostDesiredStateControl): Promise<void> {
    try {
      await this.connection.publish(Exchanges.control, RoutingKeys.hostControl(state.hostId, 'desired-state'), HOST_DESIRED_STATE, state, { mandatory: true });
    } catch (err) {
      if (err instanceof UnroutableError) {
        // The host declares its queue when it starts, and then asks for its desired state: nothing is lost.
        this.logger.info('the host has no queue yet: it gets its desired state when it starts', { hostId: state.hostId, generation: state.generation });
        return;
      }
      this.logger.warn('could not send the desired state; the host will catch up at its next sync', { hostId: state.hostId, err: String(err) });
    }
  }

  /** `inReplyTo`: the syncId of the host.sync this answers (the host takes it as the plane's word). */
  async publishFor(hostId: string, inReplyTo?: string): Promise<void> {
    const state = await this.build(hostId);
    await this.publish(inReplyTo === undefined ? state : { ...state, inReplyTo });
  }
}
