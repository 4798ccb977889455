import { Module } from '@nestjs/common';
import { BrokerAccessModule } from '../broker-users/broker-access.module';
import { BrokerAccounts, HostBrokerAccounts } from './broker-accounts';
import { JoinHttpListener } from './join.http-listener';
import { JoinRepository } from './join.repository';
import { JoinService } from './join.service';
import { JoinTokensHttpController } from './join-tokens.http.controller';
import { JoinTokensService } from './join-tokens.service';
import { PlanePkiSource } from './plane-pki.source';

/** Join tokens (operator REST), and registration and renewal on their own listener (started by startRolestore). */
@Module({
  imports: [BrokerAccessModule],
  controllers: [JoinTokensHttpController],
  providers: [JoinRepository, JoinService, JoinTokensService, JoinHttpListener, PlanePkiSource, { provide: BrokerAccounts, useClass: HostBrokerAccounts }],
  exports: [JoinService, JoinHttpListener],
})
export class JoinModule {}
