import {
  ErrorCodes,
  type HostAuthorizeCommand,
  type HostAuthorizeResult,
  type HostDeauthorizeCommand,
  type HostDeauthorizeResult,
  type HostDetailView,
  type HostHeartbeatEvent,
  type HostRoleView,
  type HostState,
  type HostSummaryView,
} from '#contracts';
import { ApplicationError } from '#amqp';
import type { Logger } from '#logging';
import type { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import type { HostAccessService } from '../broker-users/host-access.service';
import type { BrokerIdentityPolicy } from '../broker-users/broker-identity';
import type { HostRow, HostsRepository } from './hosts.repository';
import { nodeletView } from './nodelet.view';

export class HostsService {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly desiredState: DesiredStatePublisher,
    private readonly offlineAfterMs: number,
    private readonly logger: Logger,
    private readonly access: HostAccessService,
    private readonly identity: BrokerIdentityPolicy,
    private readonly clock: () => number = Date.now,
  ) {}

  async list(): Promise<HostSummaryView[]> {
    const now = this.clock();
    return (await this.hosts.list()).map((row) => this.summary(row, now));
  }

  async get(id: string): Promise<HostDetailView> {
    const row = await this.hosts.find(id);
    if (!row) throw new ApplicationError(ErrorCodes.notFound, `host ${id} is not known`);
    const roles: HostRoleView[] = (await this.hosts.roles(id)).map((r) => ({
      name: r.role,
      version: r.version,
      config: JSON.parse(r.config) as Record<string, unknown>,
      desiredGeneration: Number(r.desired_generation),
      appliedGeneration: r.applied_generation === null ? null : Number(r.applied_generation),
      state: r.state ?? (r.assigned === 1 ? 'pending' : 'removing'),
      message: r.message,
      failures: Number(r.failures),
    }));
    const nodelet = await this.hosts.findNodelet(id);
    const brokerIdentity = this.identity.identityOf(await this.access.hasOwnUser(id));
    const now = this.clock();
    return {
      ...this.summary(row, now),
      info: row.info === null ? null : (JSON.parse(row.info) as HostHeartbeatEvent),
      roles,
      nodelet: nodelet === null ? null : nodeletView(nodelet, now),
      brokerIdentity,
    };
  }

  async authorize(command: HostAuthorizeCommand): Promise<HostAuthorizeResult> {
    // A host on a shared broker identity could act as every other host: not admitted unless the operator said so.
    const host = await this.hosts.find(command.hostId);
    const refusal = host === null || host.state === 'authorized' ? null : this.identity.authorizeRefusal(command.hostId, await this.access.hasOwnUser(command.hostId));
    if (refusal !== null) {
      this.logger.warn('host not authorized: no broker identity of its own', { hostId: command.hostId, reason: refusal });
      throw new ApplicationError(ErrorCodes.conflict, refusal);
    }
    await this.changeState(command.hostId, 'authorized');
    return { hostId: command.hostId, state: 'authorized' };
  }

  /** Deauthorizing a host also takes its roles away: it stops being managed. */
  async deauthorize(command: HostDeauthorizeCommand): Promise<HostDeauthorizeResult> {
    await this.changeState(command.hostId, 'unauthorized');
    return { hostId: command.hostId, state: 'unauthorized' };
  }

  private async changeState(hostId: string, state: HostState): Promise<void> {
    const changed = await this.hosts.transaction(async (tx) => {
      const host = await this.hosts.find(hostId, tx);
      if (!host) throw new ApplicationError(ErrorCodes.notFound, `host ${hostId} is not known`);
      if (host.state === state) return false;
      const now = this.clock();
      const generation = await this.hosts.nextGeneration(tx, hostId, now);
      await this.hosts.setState(tx, hostId, state, now);
      if (state === 'unauthorized') await this.hosts.unassignRoles(tx, hostId, 'all', generation, now);
      return true;
    });
    if (!changed) return;
    this.logger.info(`host ${state}`, { hostId });
    await this.desiredState.publishFor(hostId);
    if (state === 'authorized') await this.access.authorized(hostId);
    else await this.access.deauthorized(hostId, (await this.hosts.roles(hostId)).length);
  }

  private summary(row: HostRow, now: number): HostSummaryView {
    const last = row.last_heartbeat_ms === null ? null : Number(row.last_heartbeat_ms);
    return {
      id: row.id,
      hostname: row.hostname,
      state: row.state,
      online: last !== null && now - last <= this.offlineAfterMs,
      lastHeartbeatAt: last === null ? null : new Date(last).toISOString(),
    };
  }
}
