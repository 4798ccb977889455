import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { HOST_ID_PATTERN } from '../wire';

/** Longest a join token may live: 30 days. */
export const MAX_JOIN_TOKEN_TTL_S = 30 * 24 * 60 * 60;
export const DEFAULT_JOIN_TOKEN_TTL_S = 24 * 60 * 60;

/** The body of `POST /v1/join-tokens` (operator side). */
export class JoinTokenCreateRequest {
  /** Seconds until the token expires; default 24 h. */
  @IsOptional()
  @IsInt({ message: 'ttlS must be a whole number of seconds' })
  @Min(1)
  @Max(MAX_JOIN_TOKEN_TTL_S)
  ttlS?: number;

  /** Only this host may join with the token; required to re-register a host that has a certificate already. */
  @IsOptional()
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId?: string;
}

/** The answer to `POST /v1/join-tokens`: the token is shown this once; the plane keeps only its hash. */
export interface JoinTokenView {
  token: string;
  expiresAt: string;
  /** Present when the token is bound to one host. */
  hostId?: string;
}
