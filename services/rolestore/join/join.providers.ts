import type { Provider } from '@nestjs/common';
import type { Logger } from '#logging';
import type { RolestoreConfig } from '../config/rolestore.config';
import type { Database } from '../database/database';
import { HostAccessService } from '../broker-users/host-access.service';
import { BrokerIdentityPolicy } from '../broker-users/broker-identity';
import { BROKER_ACCOUNTS, type BrokerAccounts } from './broker-accounts';
import { JoinHttpListener } from './join.http-listener';
import { JoinRepository } from './join.repository';
import { JoinService } from './join.service';
import { JoinTokensHttpController } from './join-tokens.http.controller';
import { JoinTokensService } from './join-tokens.service';
import { PlanePkiSource } from './plane-pki.source';

export const joinControllers = [JoinTokensHttpController];

/** Join tokens (operator REST) and registration (its own listener, started by startRolestore). */
export function joinProviders(config: RolestoreConfig, logger: Logger, db: Database): Provider[] {
  return [
    { provide: JoinRepository, useFactory: () => new JoinRepository(db) },
    // A broker user per host when PF9_HOST_BROKER_USERS is on; otherwise null (shared credentials, if the plane admits them).
    {
      provide: BROKER_ACCOUNTS,
      inject: [HostAccessService, BrokerIdentityPolicy],
      useFactory: (access: HostAccessService, identity: BrokerIdentityPolicy): BrokerAccounts => ({
        ensureHostUser: (hostId) => access.registered(hostId),
        joinRefusal: () => identity.joinRefusal(),
        planeBrokerUser: config.planeBrokerUser,
      }),
    },
    {
      provide: JoinTokensService,
      inject: [JoinRepository],
      useFactory: (repository: JoinRepository) => new JoinTokensService(repository, logger),
    },
    {
      provide: JoinService,
      inject: [JoinRepository, BROKER_ACCOUNTS],
      useFactory: (repository: JoinRepository, brokerAccounts: BrokerAccounts) =>
        new JoinService(repository, new PlanePkiSource(config.dataDir), brokerAccounts, logger),
    },
    {
      provide: JoinHttpListener,
      inject: [JoinService],
      useFactory: (joins: JoinService) => new JoinHttpListener(joins, logger),
    },
  ];
}
