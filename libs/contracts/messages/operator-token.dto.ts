import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

// Operators (CONTRACT.md section 8, version 1.1): bearer tokens, each scoped to a role.

/** Each role includes the one before it. Wire protocol: do not rename. */
export const OPERATOR_ROLES = ['viewer', 'operator', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Whether `held` may do what needs `needed`. */
export function roleAllows(held: OperatorRole, needed: OperatorRole): boolean {
  return OPERATOR_ROLES.indexOf(held) >= OPERATOR_ROLES.indexOf(needed);
}

/** A token's name: it is who the audit log says acted (`token:<name>`), and Kubernetes' username. */
export const OPERATOR_TOKEN_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Longest a token may live: a year. */
export const MAX_OPERATOR_TOKEN_TTL_S = 365 * 24 * 60 * 60;

/** The body of `POST /v1/tokens` (admin). */
export class OperatorTokenCreateRequest {
  @Matches(OPERATOR_TOKEN_NAME_PATTERN, { message: 'name must be 1-63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit' })
  name!: string;

  @IsIn(OPERATOR_ROLES, { message: 'role must be one of viewer, operator, admin' })
  role!: OperatorRole;

  /** Seconds until the token expires; left out: it does not expire (until revoked). */
  @IsOptional()
  @IsInt({ message: 'ttlS must be a whole number of seconds' })
  @Min(1)
  @Max(MAX_OPERATOR_TOKEN_TTL_S)
  ttlS?: number;
}

/** A token as `GET /v1/tokens` lists it: never its secret. */
export interface OperatorTokenView {
  id: string;
  name: string;
  role: OperatorRole;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** The answer to `POST /v1/tokens`: the secret `token` is shown this once; the plane keeps only its hash. */
export interface OperatorTokenCreatedView {
  id: string;
  name: string;
  role: OperatorRole;
  token: string;
  expiresAt: string | null;
}

/** One record of `GET /v1/audit`, oldest first; seq, source, prevHash and hash make the chain `hostplane audit verify` checks. */
export interface AuditRecordView {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  details: Record<string, unknown>;
  seq: number;
  source: string;
  prevHash: string;
  hash: string;
}
