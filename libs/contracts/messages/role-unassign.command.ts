import { Matches } from 'class-validator';
import { HOST_ID_PATTERN, ROLE_NAME_PATTERN } from '../wire';

export const ROLE_UNASSIGN = 'role.unassign';

export class RoleUnassignCommand {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  @Matches(ROLE_NAME_PATTERN, { message: 'role must match ^[a-z0-9][a-z0-9-]{0,62}$' })
  role!: string;
}

export interface RoleUnassignResult {
  hostId: string;
  role: string;
  generation: number;
}
