import { IsString, Matches, MaxLength } from 'class-validator';
import { HOST_ID_PATTERN } from '../wire';

/**
 * Internal (plane-host protocol): pf9-bouncer on a host asks the plane whether a bearer
 * token is one of the plane's operator tokens (routing key host.<hostId>.token-review on
 * pf9.events, with reply_to). The plane answers only a host that is authorized and that
 * sent it as itself (its broker user); the token is never logged by either side.
 */
export const TOKEN_REVIEW = 'token.review';

/** The longest bearer token reviewed: longer ones are no operator token of the plane's. */
export const TOKEN_REVIEW_MAX_TOKEN_CHARS = 1024;
/** Visible ASCII, no space: what an HTTP Authorization header carries as a bearer token. */
export const TOKEN_REVIEW_TOKEN_PATTERN = /^[\x21-\x7E]+$/;

export class TokenReviewRequest {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  @IsString()
  @MaxLength(TOKEN_REVIEW_MAX_TOKEN_CHARS)
  @Matches(TOKEN_REVIEW_TOKEN_PATTERN, { message: 'token must be 1 or more visible ASCII characters' })
  token!: string;
}

/** Who a token belongs to, in Kubernetes' terms: username = the token's name, uid = its id, groups = ["hostplane:<role>"]. */
export interface TokenReviewUser {
  username: string;
  uid: string;
  groups: string[];
}

/**
 * The answer: authenticated, with the user and, for a token that expires, when (ISO 8601),
 * so that no cache keeps it past that; or not authenticated (unknown, expired or revoked).
 */
export type TokenReviewResult = { authenticated: true; user: TokenReviewUser; expiresAt?: string | null } | { authenticated: false };
