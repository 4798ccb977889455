import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsCount } from '../validation';
import { HOST_ID_PATTERN, ROLE_NAME_PATTERN, ROLE_STATES, SEMVER_PATTERN, type RoleState } from '../wire';

export const ROLE_STATUS = 'role.status';

/** The most of a hook's output that a status report carries. */
export const ROLE_STATUS_LOG_MAX_BYTES = 16 * 1024;

export class RoleStatusEvent {
  @Matches(HOST_ID_PATTERN) hostId!: string;
  @Matches(ROLE_NAME_PATTERN) role!: string;
  @Matches(SEMVER_PATTERN) version!: string;
  @IsCount() generation!: number;
  @IsIn(ROLE_STATES) state!: RoleState;

  @IsOptional() @IsString() @MaxLength(4096) message?: string;
  @IsOptional() @IsString() @MaxLength(ROLE_STATUS_LOG_MAX_BYTES) log?: string;
  /** Failed attempts in a row to apply this role's desired state (0 once applied); agents before it leave it out. */
  @IsOptional() @IsCount() failures?: number;
}
