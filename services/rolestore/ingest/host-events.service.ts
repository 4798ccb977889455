import { Injectable } from '@nestjs/common';
import type { HostSyncEvent, NodeletStatusEvent, RoleStatusEvent } from '#contracts';
import { UnavailableError } from '#amqp';
import { Logger } from '#logging';
import { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import { HostAccessService } from '../broker-users/host-access.service';
import { Clock } from '../core/clock';
import { HostsRepository } from '../hosts/hosts.repository';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
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
@Injectable()
export class HostEventsService {
  /** Reports of one host are applied in the order they came; hosts do not wait on each other. */
  private readonly perHost = new PerKeyQueue();
  private readonly syncs: TokenBuckets;

  constructor(
    private readonly hosts: HostsRepository,
    private readonly desiredState: DesiredStatePublisher,
    private readonly access: HostAccessService,
    private readonly metrics: RolestoreMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.syncs = new TokenBuckets(HOST_SYNC_BURST, HOST_SYNC_REFILL_MS, () => clock.now());
  }

  /** While the database is away a host's reports wait together, so that none overtakes an earlier one. */
  roleStatus(event: RoleStatusEvent): Promise<void> {
    return this.perHost.run(event.hostId, () => this.applyRoleStatus(event), (err) => err instanceof UnavailableError);
  }

  private async applyRoleStatus(event: RoleStatusEvent): Promise<void> {
    const outcome = await this.hosts.transaction(async (tx) => {
      const role = await this.hosts.findRole(event.hostId, event.role, tx);
      if (!role) return 'unknown-role';
      // A report about an older desired state says nothing about the current one.
      if (event.generation < role.desiredGeneration) return 'stale';
      if (event.state === 'removed' && !role.assigned) {
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
        this.clock.now(),
      );
      return { state: event.state, sinceMs: role.desiredMs };
    });
    if (typeof outcome === 'string') {
      if (outcome === 'removed-last') this.access.rolesGone(event.hostId);
      if (outcome === 'removed' || outcome === 'removed-last') this.metrics.roleApplies.inc({ outcome: 'removed' });
      else this.logger.debug('role status ignored', { reason: outcome, hostId: event.hostId, role: event.role, generation: event.generation });
      return;
    }
    if (outcome.state === 'applied' || outcome.state === 'failed') {
      this.metrics.roleApplies.inc({ outcome: outcome.state });
      this.metrics.applyDuration.observe({ outcome: outcome.state }, Math.max(0, this.clock.now() - outcome.sinceMs) / 1000);
    }
    this.logger.info('role status', { hostId: event.hostId, role: event.role, version: event.version, generation: event.generation, state: event.state, message: event.message });
  }

  /** nodelet's state on the host: the newest kept (by the time the host sent it); `none` forgets it. */
  nodeletStatus(event: NodeletStatusEvent): Promise<void> {
    return this.perHost.run(event.hostId, async () => {
      const sentMs = Date.parse(event.sentAt);
      if (event.state === 'none') await this.hosts.deleteNodelet(event.hostId, sentMs);
      else await this.hosts.upsertNodelet(event.hostId, event, sentMs, this.clock.now());
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
