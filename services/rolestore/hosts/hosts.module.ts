import { Module } from '@nestjs/common';
import { AssignmentsAmqpController } from '../assignments/assignments.amqp.controller';
import { AssignmentsHttpController } from '../assignments/assignments.http.controller';
import { AssignmentsService } from '../assignments/assignments.service';
import { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import { BrokerAccessModule } from '../broker-users/broker-access.module';
import { HeartbeatIngester } from '../ingest/heartbeat.ingester';
import { HostEventsAmqpController } from '../ingest/host-events.amqp.controller';
import { HostEventsService } from '../ingest/host-events.service';
import { HostSenderGuard } from '../ingest/host-sender.guard';
import { JoinModule } from '../join/join.module';
import { MessagingModule } from '../messaging/messaging.module';
import { RolesModule } from '../roles/roles.module';
import { DecommissionService } from './decommission.service';
import { HostsAmqpController } from './hosts.amqp.controller';
import { HostsHttpController } from './hosts.http.controller';
import { HostsRepository } from './hosts.repository';
import { HostsService } from './hosts.service';

/**
 * Hosts and their roles: authorization, assignments and the desired state sent to each host,
 * what hosts report (heartbeats, role status, sync, nodelet), and decommissioning. Each
 * feature answers REST and AMQP alike, through one service.
 */
@Module({
  imports: [MessagingModule, RolesModule, BrokerAccessModule, JoinModule],
  controllers: [HostsHttpController, HostsAmqpController, AssignmentsHttpController, AssignmentsAmqpController, HostEventsAmqpController],
  providers: [HostsRepository, HostsService, DecommissionService, AssignmentsService, DesiredStatePublisher, HostEventsService, HeartbeatIngester, HostSenderGuard],
  exports: [HostsRepository, HostSenderGuard],
})
export class HostsModule {}
