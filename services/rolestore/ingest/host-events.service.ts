import { ErrorCodes, hostBrokerUser, type HostSyncEvent, type NodeletStatusEvent, type RoleStatusEvent } from '#contracts';
import { ApplicationError, UnavailableError, type MessageContext } from '#amqp';
import type { Logger } from '#logging';
import type { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import type { HostsRepository } from '../hosts/hosts.repository';
import type { RolestoreMetrics } from '../metrics/rolestore.metrics';
import type { HostAccessService } from '../broker-users/host-access.service';
import { PerKeyQueue } from '../support/per-key-queue';
import { TokenBuckets } from '../support/token-buckets';

/**
 * How often one host may ask for its desired state: a burst of 5, then one every 5 s. A host
 * asks at start, at each reconnect and check (60 s) and after a gap; each answer costs a
 * database read and a message to its queue, so a host that asks more only wastes both.
 */
export const HOST_SYNC_BURST = 5;
export const HOST_SYNC_REFILL_MS = 5_000;

/** What hosts report: role status, and requests for their whole desired state. */
export class HostEventsService {
  /** Reports of one host are applied in the order they came; hosts do not wait on each other. */
  private readonly perHost = new PerKeyQueue();
  private readonly syncs: TokenBuckets;

  constructor(
    private readonly hosts: HostsRepository,
    private readonly desiredState: DesiredStatePublisher,
    private readonly metrics: RolestoreMetrics,
    private readonly logger: Logger,
    private readonly access: HostAccessService | null = null,
    private readonly clock: () => number = Date.now,
  ) {
    this.syncs = new TokenBuckets(HOST_SYNC_BURST, HOST_SYNC_REFILL_MS, clock);
  }

  /** While the database is away a host's reports wait together, so that none overtakes an earlier one. */
  roleStatus(event: RoleStatusEvent): Promise<void> {
    return this.perHost.run(event.hostId, () => this.applyRoleStatus(event), (err) => err instanceof UnavailableError);
  }

  private async applyRoleStatus(event: RoleStatusEvent): Promise<void> {
    const outcome = await this.hosts.transaction(async (tx) => {
      const row = await this.hosts.findRole(event.hostId, event.role, tx);
      if (!row) return 'unknown-role';
      // A report about an older desired state says nothing about the current one.
      if (event.generation < Number(row.desired_generation)) return 'stale';
      if (event.state === 'removed' && row.assigned !== 1) {
        await this.hosts.deleteRole(tx, event.hostId, event.role);
        return (await this.hosts.roles(event.hostId, tx)).length === 0 ? 'removed-last' : 'removed';
      }
      const applied = event.state === 'applied';
      await this.hosts.recordRoleStatus(
        tx,
        {
          hostId: event.hostId,
          role: event.role,
          state: event.state,
          message: event.message ?? null,
          log: event.log ?? null,
          appliedGeneration: applied ? event.generation : null,
          appliedVersion: applied ? event.version : null,
          // An agent that does not count failures: applied still means none.
          failures: event.failures ?? (applied ? 0 : null),
        },
        this.clock(),
      );
      return { state: event.state, sinceMs: Number(row.desired_ms) };
    });
    if (typeof outcome === 'string') {
      if (outcome === 'removed-last') this.access?.rolesGone(event.hostId);
      if (outcome === 'removed' || outcome === 'removed-last') this.metrics.roleApplies.inc({ outcome: 'removed' });
      else this.logger.debug('role status ignored', { reason: outcome, hostId: event.hostId, role: event.role, generation: event.generation });
      return;
    }
    if (outcome.state === 'applied' || outcome.state === 'failed') {
      this.metrics.roleApplies.inc({ outcome: outcome.state });
      this.metrics.applyDuration.observe({ outcome: outcome.state }, Math.max(0, this.clock() - outcome.sinceMs) / 1000);
    }
    this.logger.info('role status', { hostId: event.hostId, role: event.role, version: event.version, generation: event.generation, state: event.state, message: event.message });
  }

  /** nodelet's state on the host: the newest kept (by the time the host sent it); `none` forgets it. */
  nodeletStatus(event: NodeletStatusEvent): Promise<void> {
    return this.perHost.run(event.hostId, async () => {
      const sentMs = Date.parse(event.sentAt);
      if (event.state === 'none') await this.hosts.deleteNodelet(event.hostId, sentMs);
      else await this.hosts.upsertNodelet(event.hostId, JSON.stringify(event), sentMs, this.clock());
      this.logger.debug('nodelet status', { hostId: event.hostId, state: event.state, attempt: event.attempt });
    });
  }

  /** Answers with the host's whole desired state, carrying its syncId back; a host over its rate is dropped (acked, counted). */
  async sync(event: HostSyncEvent): Promise<void> {
    if (!this.syncs.take(event.hostId)) {
      this.metrics.hostSyncsDropped.inc();
      this.logger.debug('host.sync dropped: the host asks too often', { hostId: event.hostId, reason: event.reason });
      return;
    }
    this.logger.debug('host asks for its desired state', { hostId: event.hostId, reason: event.reason });
    await this.desiredState.publishFor(event.hostId, event.syncId);
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
