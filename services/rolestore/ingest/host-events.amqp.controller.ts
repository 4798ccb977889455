import { Controller, UseGuards } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { HOST_HEARTBEAT, HOST_SYNC, HostHeartbeatEvent, HostSyncEvent, NODELET_STATUS, NodeletStatusEvent, ROLE_STATUS, RoleStatusEvent } from '#contracts';
import { HeartbeatIngester } from './heartbeat.ingester';
import { HostEventsService } from './host-events.service';
import { HostSenderGuard } from './host-sender.guard';

/** What hosts send on pf9.events, each from the host it names (HostSenderGuard); no operator is involved. */
@Controller()
@UseGuards(HostSenderGuard)
export class HostEventsAmqpController {
  constructor(
    private readonly heartbeats: HeartbeatIngester,
    private readonly events: HostEventsService,
  ) {}

  /** Batched: resolves (and the message is acked) once its batch is written. */
  @EventPattern(HOST_HEARTBEAT)
  heartbeat(@Payload() event: HostHeartbeatEvent): Promise<void> {
    return this.heartbeats.ingest(event);
  }

  @EventPattern(ROLE_STATUS)
  roleStatus(@Payload() event: RoleStatusEvent): Promise<void> {
    return this.events.roleStatus(event);
  }

  @EventPattern(HOST_SYNC)
  sync(@Payload() event: HostSyncEvent): Promise<void> {
    return this.events.sync(event);
  }

  @EventPattern(NODELET_STATUS)
  nodeletStatus(@Payload() event: NodeletStatusEvent): Promise<void> {
    return this.events.nodeletStatus(event);
  }
}
