import { Injectable, type OnModuleInit } from '@nestjs/common';
import {
  ErrorCodes,
  type HostAuthorizeCommand,
  type HostAuthorizeResult,
  type HostDeauthorizeCommand,
  type HostDeauthorizeResult,
  type HostDetailView,
  type HostRoleView,
  type HostState,
  type HostSummaryView,
} from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import { HostAccessService } from '../broker-users/host-access.service';
import { BrokerIdentityPolicy } from '../broker-users/broker-identity';
import { RolestoreConfig } from '../config/rolestore.config';
import { Clock } from '../core/clock';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { HostsRepository, type Host } from './hosts.repository';
import { nodeletView } from './nodelet.view';

@Injectable()
export class HostsService implements OnModuleInit {
  /** No heartbeat for this long: the host shows offline. */
  private readonly offlineAfterMs: number;

  constructor(
    private readonly hosts: HostsRepository,
    private readonly desiredState: DesiredStatePublisher,
    private readonly access: HostAccessService,
    private readonly identity: BrokerIdentityPolicy,
    private readonly metrics: RolestoreMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
    config: RolestoreConfig,
  ) {
    this.offlineAfterMs = config.offlineAfterS * 1000;
  }

  onModuleInit(): void {
    this.metrics.gaugeHostsOnline(() => this.hosts.countOnline(this.clock.now() - this.offlineAfterMs));
  }

  async list(): Promise<HostSummaryView[]> {
    const now = this.clock.now();
    return (await this.hosts.list()).map((host) => this.summary(host, now));
  }

  async get(id: string): Promise<HostDetailView> {
    const host = await this.hosts.find(id);
    if (!host) throw new ApplicationError(ErrorCodes.notFound, `host ${id} is not known`);
    const roles: HostRoleView[] = (await this.hosts.roles(id)).map((r) => ({
      name: r.role,
      version: r.version,
      config: r.config,
      desiredGeneration: r.desiredGeneration,
      appliedGeneration: r.appliedGeneration,
      state: r.state ?? (r.assigned ? 'pending' : 'removing'),
      message: r.message,
      failures: r.failures,
    }));
    const nodelet = await this.hosts.findNodelet(id);
    const brokerIdentity = this.identity.identityOf(await this.access.hasOwnUser(id));
    const now = this.clock.now();
    return {
      ...this.summary(host, now),
      info: host.info,
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
      const now = this.clock.now();
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

  private summary(host: Host, now: number): HostSummaryView {
    const last = host.lastHeartbeatMs;
    return {
      id: host.id,
      hostname: host.hostname,
      state: host.state,
      online: last !== null && now - last <= this.offlineAfterMs,
      lastHeartbeatAt: last === null ? null : new Date(last).toISOString(),
    };
  }
}
