import { Matches } from 'class-validator';
import { HOST_ID_PATTERN, ROLE_NAME_PATTERN } from '../wire';

/**
 * The project's own (not contract v1): `POST /v1/hosts/:id/roles/:role/retry`, an operator
 * asking a host to try a role whose apply failed again now, rather than at its next backoff.
 */
export class RoleRetryRequest {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  @Matches(ROLE_NAME_PATTERN, { message: 'role must match ^[a-z0-9][a-z0-9-]{0,62}$' })
  role!: string;
}

/** The host's generation does not move: the retry token does (sent to the host in its desired state). */
export interface RoleRetryResult {
  hostId: string;
  role: string;
  generation: number;
  retry: number;
}
