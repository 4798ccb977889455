import { Module } from '@nestjs/common';
import { Logger } from '#logging';
import { RolestoreConfig } from '../config/rolestore.config';
import { BrokerAccessLifecycle } from './broker-access.lifecycle';
import { createBrokerAccounts } from './broker-accounts.factory';
import { BrokerIdentityPolicy } from './broker-identity';
import { HostAccessRepository } from './host-access.repository';
import { GraceTimers, HostAccessService, HostBrokerUsers, SystemGraceTimers } from './host-access.service';

/** Each host's own broker user and what it may do, kept in line with the database; the broker identity policy. */
@Module({
  providers: [
    HostAccessRepository,
    HostAccessService,
    BrokerIdentityPolicy,
    BrokerAccessLifecycle,
    { provide: GraceTimers, useClass: SystemGraceTimers },
    // PF9_HOST_BROKER_USERS decides at start: RabbitMQ's management API, or none (null).
    { provide: HostBrokerUsers, inject: [RolestoreConfig, Logger], useFactory: createBrokerAccounts },
  ],
  exports: [HostAccessRepository, HostAccessService, BrokerIdentityPolicy],
})
export class BrokerAccessModule {}
