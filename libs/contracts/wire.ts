// Wire protocol: every name in this file is part of CONTRACT.md or of the
// plane-host protocol. Do not rename without a new contract version.

export const Exchanges = {
  api: 'pf9.api',
  events: 'pf9.events',
  control: 'pf9.control',
  deadLetter: 'pf9.dlx',
} as const;

export const Queues = {
  dead: 'pf9.dead',
  /** The role store's queue for operator commands on pf9.api. */
  rolestoreApi: 'pf9.rolestore.api',
  /** The role store's queue for host events on pf9.events. */
  rolestoreEvents: 'pf9.rolestore.events',
  /** The role store's queue for token.review on pf9.events: not durable, no dead letters (a bearer token is in every body). */
  rolestoreTokenReview: 'pf9.rolestore.token-review',
  host: (hostId: string): string => `pf9.host.${hostId}`,
} as const;

export const RoutingKeys = {
  hostEvent: (hostId: string, event: HostEventName): string => `host.${hostId}.${event}`,
  hostControl: (hostId: string, kind: HostControlName): string => `host.${hostId}.${kind}`,
  hostControlBinding: (hostId: string): string => `host.${hostId}.#`,
} as const;

/** The last segment of a pf9.events routing key. */
export type HostEventName = 'heartbeat' | 'role-status' | 'sync' | 'token-review' | 'nodelet';
/** The last segment of a pf9.control routing key. */
export type HostControlName = 'desired-state';

export const Headers = {
  error: 'x-pf9-error',
} as const;

/**
 * The largest body any consumer takes, the host agent's own included: a host's whole desired
 * state travels as one host.desired-state message, so the role store refuses an assignment
 * whose desired state would be larger than this.
 */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Roles one host.desired-state may list: the host refuses a longer list, so the role store does not assign more. */
export const MAX_ROLES_PER_HOST = 1024;
export const CONTENT_TYPE_JSON = 'application/json';
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export const ErrorCodes = {
  validationFailed: 'VALIDATION_FAILED',
  unknownType: 'UNKNOWN_TYPE',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  hostNotAuthorized: 'HOST_NOT_AUTHORIZED',
  forbidden: 'FORBIDDEN',
  /** Contract 1.1: no token, or an unknown, expired or revoked one. */
  unauthenticated: 'UNAUTHENTICATED',
  internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: unknown[];
}

export type Reply<R> = { ok: true; result: R } | { ok: false; error: ErrorBody };

/** Host ids name routing-key segments and queue names: no dots, no wildcards. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Semantic Versioning 2.0.0, as published at semver.org. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const ROLE_STATES = ['downloading', 'installing', 'configuring', 'applied', 'failed', 'removing', 'removed'] as const;
export type RoleState = (typeof ROLE_STATES)[number];

export const HOST_STATES = ['unauthorized', 'authorized'] as const;
export type HostState = (typeof HOST_STATES)[number];
