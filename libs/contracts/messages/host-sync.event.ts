import { IsIn, IsOptional, IsUUID, Matches } from 'class-validator';
import { IsCount } from '../validation';
import { HOST_ID_PATTERN } from '../wire';

/**
 * Internal (plane-host protocol): a host asks for its whole desired state. The plane
 * answers with host.desired-state on the host's own queue.
 */
export const HOST_SYNC = 'host.sync';

export const SYNC_REASONS = ['start', 'reconnect', 'timer', 'gap'] as const;
export type SyncReason = (typeof SYNC_REASONS)[number];

export class HostSyncEvent {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @IsIn(SYNC_REASONS) reason!: SyncReason;
  @IsOptional() @IsCount() knownGeneration?: number;
  /** A random id the plane's answer carries back (`inReplyTo`): the host takes that answer as the plane's word, even for a lower generation. */
  @IsOptional() @IsUUID() syncId?: string;
}
