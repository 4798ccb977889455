import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsObject, IsOptional, IsUUID, Matches, Min, ValidateNested } from 'class-validator';
import { HOST_ID_PATTERN, HOST_STATES, ROLE_NAME_PATTERN, SEMVER_PATTERN, type HostState } from '../wire';

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
  @IsObject() config!: Record<string, unknown>;
  /** The host generation at which this role's version or config last changed. */
  @IsInt() @Min(0) generation!: number;
}

export class HostDesiredStateControl {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @IsIn(HOST_STATES) state!: HostState;
  @IsInt() @Min(0) generation!: number;

  @IsArray()
  @ArrayMaxSize(1024)
  @ValidateNested({ each: true })
  @Type(() => DesiredRole)
  roles!: DesiredRole[];

  /** Set in an answer to host.sync: that request's syncId. */
  @IsOptional() @IsUUID() inReplyTo?: string;
}
