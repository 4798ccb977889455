import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '#logging';
import { BrokerAccessModule } from './broker-users/broker-access.module';
import type { RolestoreConfig } from './config/rolestore.config';
import { CoreModule } from './core/core.module';
import type { Database } from './database/database';
import { DatabaseModule } from './database/database.module';
import { HostsModule } from './hosts/hosts.module';
import { JoinModule } from './join/join.module';
import { MessagingModule } from './messaging/messaging.module';
import { OpsModule } from './metrics/ops.module';
import { OperatorsModule } from './operators/operators.module';
import { RolesModule } from './roles/roles.module';

@Module({})
export class RolestoreModule {
  /** The role store, given its validated config (PF9_HOST_BROKER_USERS resolved to on or off), its logger and an open, migrated database. */
  static forRoot(config: RolestoreConfig, logger: Logger, db: Database): DynamicModule {
    return {
      module: RolestoreModule,
      imports: [
        CoreModule.forRoot(config, logger),
        DatabaseModule.forRoot(db),
        MessagingModule,
        BrokerAccessModule,
        RolesModule,
        JoinModule,
        HostsModule,
        OperatorsModule,
        OpsModule,
      ],
    };
  }
}
