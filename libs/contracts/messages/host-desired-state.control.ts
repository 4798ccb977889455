import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsUUID, Matches } from 'class-validator';
import { IsCount, IsJsonObject, Nested } from '../validation';
import { HOST_ID_PATTERN, HOST_STATES, MAX_ROLES_PER_HOST, ROLE_NAME_PATTERN, SEMVER_PATTERN, type HostState } from '../wire';

/**
 * Internal (plane-host protocol): the whole desired state of one host, sent on
 * pf9.control after every change and in answer to host.sync. Carrying the whole
 * state rather than a delta makes a lost or repeated message harmless: the host
 * applies the newest generation it has seen and ignores older ones.
 */
export const HOST_DESIRED_STATE = 'host.desired-state';

export class DesiredRole {
  @Matches(ROLE_NAME_PATTERN) name!: string;
  @Matches(SEMVER_PATTERN) version!: string;
  @Matches(/^[0-9a-f]{64}$/) sha256!: string;
  @IsJsonObject() config!: Record<string, unknown>;
  /** The host generation at which this role's version or config last changed. */
  @IsCount() generation!: number;
  /**
   * Raised by the plane when an operator asks for another attempt (`hostplane role retry`):
   * a role that failed at this generation is tried again at once. Absent: 0.
   */
  @IsOptional() @IsCount() retry?: number;
}

export class HostDesiredStateControl {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @IsIn(HOST_STATES) state!: HostState;
  @IsCount() generation!: number;

  @IsArray()
  @ArrayMaxSize(MAX_ROLES_PER_HOST)
  @Nested(() => DesiredRole, { each: true })
  roles!: DesiredRole[];

  /** Set in an answer to host.sync: that request's syncId. */
  @IsOptional() @IsUUID() inReplyTo?: string;
}
