import { Injectable } from '@nestjs/common';
import { ErrorCodes, HOST_ID_PATTERN, Queues, type HostDecommissionView } from '#contracts';
import { AmqpConnection, ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { HostAccessRepository } from '../broker-users/host-access.repository';
import { HostAccessService } from '../broker-users/host-access.service';
import { Clock } from '../core/clock';
import { JoinService } from '../join/join.service';
import { HostsRepository } from './hosts.repository';

/**
 * `DELETE /v1/hosts/:id`: the plane stops managing the host and cuts it off at once. Its
 * desired state is emptied and its record deleted (roles, inventory, state), a tombstone
 * kept (decommissioned_hosts); its broker user deleted, which closes its broker
 * connections; its certificate revoked, so that the ingress closes its open tunnels and
 * refuses new ones; its queue deleted. It does not wait for the host to remove its roles:
 * deauthorize it first for that. Only a join token made for its host id lets it back in.
 */
@Injectable()
export class DecommissionService {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly accessRecords: HostAccessRepository,
    private readonly access: HostAccessService,
    /** Where the host's certificate is revoked and the CRL written. */
    private readonly certificates: JoinService,
    private readonly connection: AmqpConnection,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async decommission(hostId: string): Promise<HostDecommissionView> {
    const known =
      HOST_ID_PATTERN.test(hostId) &&
      (await this.hosts.transaction(async (tx) => {
        if ((await this.hosts.find(hostId, tx)) === null) return false;
        await this.hosts.deleteHost(tx, hostId);
        await this.accessRecords.decommission(tx, hostId, this.clock.now());
        return true;
      }));
    if (!known) throw new ApplicationError(ErrorCodes.notFound, `host ${hostId} is not known`);
    const brokerUser = await this.access.decommissioned(hostId);
    const certificateRevoked = await this.certificates.revokeHost(hostId);
    await this.deleteQueue(hostId);
    this.logger.info('host decommissioned: record deleted, broker user and certificate revoked', { hostId, brokerUser, certificateRevoked });
    return { hostId, state: 'decommissioned', brokerUser, certificateRevoked };
  }

  /** What the plane had queued for the host goes with it; a broker that is down leaves it (bounded by policy). */
  private async deleteQueue(hostId: string): Promise<void> {
    try {
      const channel = await this.connection.createChannel();
      channel.on('error', () => undefined);
      await channel.deleteQueue(Queues.host(hostId));
      await channel.close().catch(() => undefined);
    } catch (err) {
      this.logger.warn("could not delete the decommissioned host's queue", { hostId, err: String(err) });
    }
  }
}
