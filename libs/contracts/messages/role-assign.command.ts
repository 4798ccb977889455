import { IsOptional, Matches } from 'class-validator';
import { IsJsonObject } from '../validation';
import { HOST_ID_PATTERN, ROLE_NAME_PATTERN, SEMVER_PATTERN } from '../wire';

export const ROLE_ASSIGN = 'role.assign';

/** The body of `PUT /v1/hosts/:id/roles/:role`: role.assign without what the path says. */
export class RoleAssignBody {
  @IsOptional()
  @Matches(SEMVER_PATTERN, { message: 'version must be a semantic version' })
  version?: string;

  @IsOptional()
  @IsJsonObject({ message: 'config must be a JSON object' })
  config?: Record<string, unknown>;
}

export class RoleAssignCommand extends RoleAssignBody {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  @Matches(ROLE_NAME_PATTERN, { message: 'role must match ^[a-z0-9][a-z0-9-]{0,62}$' })
  role!: string;
}

export interface RoleAssignResult {
  hostId: string;
  role: string;
  version: string;
  generation: number;
}
