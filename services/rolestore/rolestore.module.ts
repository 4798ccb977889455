import { Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AmqpConnection, type MessageConsumer } from '#amqp';
import type { Logger } from '#logging';
import { AssignmentsHttpController } from './assignments/assignments.http.controller';
import { AssignmentsService } from './assignments/assignments.service';
import { DesiredStatePublisher } from './assignments/desired-state.publisher';
import type { RolestoreConfig } from './config/rolestore.config';
import type { Database } from './database/database';
import { HostsHttpController } from './hosts/hosts.http.controller';
import { HostsRepository } from './hosts/hosts.repository';
import { HostsService } from './hosts/hosts.service';
import { DecommissionService } from './hosts/decommission.service';
import { ContractErrorFilter } from './http/http-errors';
import { OperatorAccessGuard } from './http/operator-access.guard';
import { joinControllers, joinProviders } from './join/join.providers';
import { HeartbeatIngester } from './ingest/heartbeat.ingester';
import { HostEventsService } from './ingest/host-events.service';
import { createBrokerAccounts } from './broker-users/broker-accounts.factory';
import { HostAccessRepository } from './broker-users/host-access.repository';
import { HostAccessService } from './broker-users/host-access.service';
import { BrokerIdentityPolicy } from './broker-users/broker-identity';
import { JoinService } from './join/join.service';
import { OperatorAccess } from './messaging/operator-access';
import { ProcessedMessagesRepository } from './messaging/processed-messages.repository';
import { createConsumers } from './messaging/rolestore.consumers';
import { OpsHttpController } from './metrics/ops.http.controller';
import { RolestoreMetrics } from './metrics/rolestore.metrics';
import { PackageStore } from './roles/package-store';
import { RolesHttpController } from './roles/roles.http.controller';
import { HostPackagesHttpListener } from './roles/host-packages.http-listener';
import { RolesService } from './roles/roles.service';
import { RoleVersionsRepository } from './roles/role-versions.repository';
import { DATABASE, LOGGER, ROLESTORE_CONFIG } from './rolestore.tokens';

/** Starts the broker consumers once the application is up, and stops them cleanly. */
class MessagingLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumers: MessageConsumer[] = [];
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly build: () => MessageConsumer[],
    private readonly heartbeats: HeartbeatIngester,
    private readonly processed: ProcessedMessagesRepository,
    private readonly db: Database,
    private readonly logger: Logger,
    /** What must stop after the last message and before the database closes. */
    private readonly hostAccess: HostAccessLifecycle,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumers = this.build();
    for (const consumer of this.consumers) await consumer.start();
    this.connection.start();
    // Message ids are remembered for a day: long enough for any client's re-send.
    this.pruneTimer = setInterval(() => {
      this.processed.prune(Date.now() - PROCESSED_MESSAGES_KEPT_MS).catch((err: unknown) => this.logger.warn('could not prune processed message ids', { err: String(err) }));
    }, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.connection.close();
    await this.heartbeats.flush();
    await this.hostAccess.stop();
    await this.db.close();
  }
}

const PROCESSED_MESSAGES_KEPT_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/**
 * Brings the hosts' broker users in line with the database at start, in the background: a
 * slow or absent management API (up to its timeout per call, per host) must not hold up
 * readiness. It stops (grace timers, retries, calls under way) once no more messages can
 * come and before the database closes: MessagingLifecycle calls stop().
 */
class HostAccessLifecycle implements OnApplicationBootstrap {
  private reconciling: Promise<void> = Promise.resolve();

  constructor(
    private readonly access: HostAccessService,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.reconciling = this.access.reconcile().catch((err: unknown) => this.logger.error("could not reconcile the hosts' broker access", { err: String(err) }));
  }

  async stop(): Promise<void> {
    await this.access.stop();
    await this.reconciling;
  }
}

@Module({})
export class RolestoreModule {
  /** The role store, given its validated config (PF9_HOST_BROKER_USERS resolved to on or off), its logger and an open, migrated database. */
  static forRoot(config: RolestoreConfig, logger: Logger, db: Database): DynamicModule {
    const identity = new BrokerIdentityPolicy(config.hostBrokerUsers === 'on', config.insecureSharedBrokerUser);
    identity.logAtStart(logger);
    return {
      module: RolestoreModule,
      controllers: [HostsHttpController, AssignmentsHttpController, RolesHttpController, OpsHttpController, ...joinControllers],
      providers: [
        { provide: ROLESTORE_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: DATABASE, useValue: db },
        { provide: OperatorAccess, useValue: new OperatorAccess() },
        { provide: APP_GUARD, useClass: OperatorAccessGuard },
        { provide: APP_FILTER, useValue: new ContractErrorFilter(logger.child({ component: 'http' })) },
        { provide: HostsRepository, useFactory: () => new HostsRepository(db) },
        { provide: RoleVersionsRepository, useFactory: () => new RoleVersionsRepository(db) },
        { provide: ProcessedMessagesRepository, useFactory: () => new ProcessedMessagesRepository(db) },
        { provide: HostAccessRepository, useFactory: () => new HostAccessRepository(db) },
        { provide: BrokerIdentityPolicy, useValue: identity },
        ...joinProviders(config, logger, db),
        {
          provide: RolestoreMetrics,
          inject: [HostsRepository],
          useFactory: (hosts: HostsRepository) => new RolestoreMetrics(() => hosts.countOnline(Date.now() - config.offlineAfterS * 1000)),
        },
        {
          provide: AmqpConnection,
          inject: [RolestoreMetrics],
          // user_id on everything it sends, validated by the broker: hosts act on control messages of this user only.
          useFactory: (metrics: RolestoreMetrics) => new AmqpConnection({ url: config.amqpUrl, appId: 'rolestore', logger, metrics: metrics.amqp, userId: config.planeBrokerUser }),
        },
        {
          provide: DesiredStatePublisher,
          inject: [HostsRepository, RoleVersionsRepository, AmqpConnection],
          useFactory: (hosts: HostsRepository, versions: RoleVersionsRepository, connection: AmqpConnection) =>
            new DesiredStatePublisher(hosts, versions, connection, logger),
        },
        {
          provide: HostAccessService,
          inject: [HostAccessRepository],
          useFactory: (repository: HostAccessRepository) =>
            new HostAccessService(createBrokerAccounts(config, logger), repository, config.deauthorizedGraceS * 1000, logger),
        },
        {
          provide: HostAccessLifecycle,
          inject: [HostAccessService],
          useFactory: (access: HostAccessService) => new HostAccessLifecycle(access, logger),
        },
        {
          provide: HostsService,
          inject: [HostsRepository, DesiredStatePublisher, HostAccessService],
          useFactory: (hosts: HostsRepository, desired: DesiredStatePublisher, access: HostAccessService) =>
            new HostsService(hosts, desired, config.offlineAfterS * 1000, logger, access, identity),
        },
        {
          provide: DecommissionService,
          inject: [HostsRepository, HostAccessRepository, HostAccessService, JoinService, AmqpConnection],
          useFactory: (hosts: HostsRepository, records: HostAccessRepository, access: HostAccessService, joins: JoinService, connection: AmqpConnection) =>
            new DecommissionService(hosts, records, access, joins, connection, logger),
        },
        {
          provide: AssignmentsService,
          inject: [HostsRepository, RoleVersionsRepository, DesiredStatePublisher],
          useFactory: (hosts: HostsRepository, versions: RoleVersionsRepository, desired: DesiredStatePublisher) =>
            new AssignmentsService(hosts, versions, desired, logger),
        },
        {
          provide: RolesService,
          inject: [RoleVersionsRepository],
          useFactory: (versions: RoleVersionsRepository) => new RolesService(versions, new PackageStore(config.dataDir), logger),
        },
        {
          provide: HostPackagesHttpListener,
          inject: [RolesService],
          useFactory: (roles: RolesService) => new HostPackagesHttpListener(roles, logger),
        },
        {
          provide: HostEventsService,
          inject: [HostsRepository, DesiredStatePublisher, RolestoreMetrics, HostAccessService],
          useFactory: (hosts: HostsRepository, desired: DesiredStatePublisher, metrics: RolestoreMetrics, access: HostAccessService) =>
            new HostEventsService(hosts, desired, metrics, logger, access),
        },
        {
          provide: HeartbeatIngester,
          inject: [HostsRepository, RolestoreMetrics],
          useFactory: (hosts: HostsRepository, metrics: RolestoreMetrics) => new HeartbeatIngester(hosts, metrics, logger),
        },
        {
          provide: MessagingLifecycle,
          inject: [AmqpConnection, HostsService, AssignmentsService, HostEventsService, HeartbeatIngester, OperatorAccess, ProcessedMessagesRepository, RolestoreMetrics, HostAccessLifecycle],
          useFactory: (
            connection: AmqpConnection,
            hosts: HostsService,
            assignments: AssignmentsService,
            hostEvents: HostEventsService,
            heartbeats: HeartbeatIngester,
            access: OperatorAccess,
            processed: ProcessedMessagesRepository,
            metrics: RolestoreMetrics,
            hostAccess: HostAccessLifecycle,
          ) =>
            new MessagingLifecycle(
              connection,
              () => createConsumers(connection, { hosts, assignments, hostEvents, heartbeats, access, requireBrokerUser: config.hostBrokerUsers === 'on' && config.insecureSharedBrokerUser === undefined }, processed, metrics, logger),
              heartbeats,
              processed,
              db,
              logger,
              hostAccess,
            ),
        },
      ],
    };
  }
}

