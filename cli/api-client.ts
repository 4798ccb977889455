import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import {
  HOST_STATES,
  HostHeartbeatEvent,
  NODELET_NODE_STATES,
  NODELET_PHASE_STATES,
  ROLE_STATES,
  validatePlain,
  type HostAuthorizeResult,
  type HostDeauthorizeResult,
  type HostDecommissionView,
  type HostDetailView,
  type HostNodeletView,
  type HostRoleView,
  type HostSummaryView,
  type AuditRecordView,
  type JoinTokenCreateRequest,
  OPERATOR_ROLES,
  type OperatorTokenCreatedView,
  type OperatorTokenCreateRequest,
  type OperatorTokenView,
  type JoinTokenView,
  type RoleAssignResult,
  type RoleRetryResult,
  type RoleUnassignResult,
  type RoleUploadView,
  type RoleVersionView,
  type RoleView,
} from '#contracts';

/** The role store answered with an error body (CONTRACT.md section 5) or a bare HTTP error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly unknown[],
  ) {
    super(message);
  }
}

/** No HTTP answer at all: refused, unresolvable, reset, or timed out. */
export class RoleStoreUnreachableError extends Error {
  override readonly name = 'RoleStoreUnreachableError';
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the role store at ${baseUrl} (${reason})`);
  }
}

/** A 2xx answer whose body is not the view the contract promises. */
export class UnexpectedResponseError extends Error {
  override readonly name = 'UnexpectedResponseError';
}

export interface RoleAssignRequest {
  version?: string;
  config?: Record<string, unknown>;
}

export interface RoleStoreClientOptions {
  timeoutMs?: number;
  /** The operator's bearer token (CONTRACT.md section 8); sent with every request. */
  token?: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Typed client of the role store REST API; every answer is checked before it is typed. */
export class RoleStoreClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;

  constructor(baseUrl: string, options: RoleStoreClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.token = options.token;
  }

  async listHosts(): Promise<HostSummaryView[]> {
    return expect(await this.request('GET', '/v1/hosts'), arrayOf(isHostSummary), 'a list of hosts');
  }

  async getHost(hostId: string): Promise<HostDetailView> {
    return expect(await this.request('GET', `/v1/hosts/${seg(hostId)}`), isHostDetail, 'a host');
  }

  /** Decommissions the host: roles and record gone, broker user deleted, certificate revoked, tunnels closed. */
  async deleteHost(hostId: string): Promise<HostDecommissionView> {
    return expect(await this.request('DELETE', `/v1/hosts/${seg(hostId)}`), isDecommission, 'a decommission result');
  }

  async authorizeHost(hostId: string): Promise<HostAuthorizeResult> {
    const body = await this.request('POST', `/v1/hosts/${seg(hostId)}/authorize`);
    return expect(body, isHostStateResult('authorized'), 'an authorize result');
  }

  async deauthorizeHost(hostId: string): Promise<HostDeauthorizeResult> {
    const body = await this.request('POST', `/v1/hosts/${seg(hostId)}/deauthorize`);
    return expect(body, isHostStateResult('unauthorized'), 'a deauthorize result');
  }

  async uploadRole(pkg: Uint8Array): Promise<RoleUploadView> {
    const body = await this.request('POST', '/v1/roles', { body: pkg, contentType: 'application/gzip' });
    return expect(body, isRoleUpload, 'an upload result');
  }

  async listRoles(): Promise<RoleView[]> {
    return expect(await this.request('GET', '/v1/roles'), arrayOf(isRoleView), 'a list of roles');
  }

  async assignRole(hostId: string, role: string, request: RoleAssignRequest): Promise<RoleAssignResult> {
    const body = await this.request('PUT', `/v1/hosts/${seg(hostId)}/roles/${seg(role)}`, {
      body: JSON.stringify(request),
      contentType: 'application/json',
    });
    return expect(body, isAssignResult, 'an assign result');
  }

  async unassignRole(hostId: string, role: string): Promise<RoleUnassignResult> {
    const body = await this.request('DELETE', `/v1/hosts/${seg(hostId)}/roles/${seg(role)}`);
    return expect(body, isUnassignResult, 'an unassign result');
  }

  async retryRole(hostId: string, role: string): Promise<RoleRetryResult> {
    const body = await this.request('POST', `/v1/hosts/${seg(hostId)}/roles/${seg(role)}/retry`);
    return expect(body, isRetryResult, 'a retry result');
  }

  async createJoinToken(request: JoinTokenCreateRequest): Promise<JoinTokenView> {
    const body = await this.request('POST', '/v1/join-tokens', { body: JSON.stringify(request), contentType: 'application/json' });
    return expect(body, isJoinTokenView, 'a join token');
  }

  async createToken(request: OperatorTokenCreateRequest): Promise<OperatorTokenCreatedView> {
    const body = await this.request('POST', '/v1/tokens', { body: JSON.stringify(request), contentType: 'application/json' });
    return expect(body, isTokenCreated, 'a new token');
  }

  async listTokens(): Promise<OperatorTokenView[]> {
    return expect(await this.request('GET', '/v1/tokens'), arrayOf(isTokenView), 'a list of tokens');
  }

  async revokeToken(id: string): Promise<OperatorTokenView> {
    return expect(await this.request('DELETE', `/v1/tokens/${seg(id)}`), isTokenView, 'a revoked token');
  }

  /** One page of the audit log, oldest first: from `since` (a time), or after the record `afterSeq`. */
  async audit(query: { since?: string; afterSeq?: number; limit?: number }): Promise<AuditRecordView[]> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', query.since);
    if (query.afterSeq !== undefined) params.set('afterSeq', String(query.afterSeq));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const text = params.toString();
    return expect(await this.request('GET', `/v1/audit${text === '' ? '' : `?${text}`}`), arrayOf(isAuditRecord), 'audit records');
  }

  private async request(
    method: string,
    path: string,
    payload?: { body: Uint8Array | string; contentType: string },
  ): Promise<unknown> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
          ...(payload ? { 'content-type': payload.contentType } : {}),
        },
        body: payload?.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error: unknown) {
      throw new RoleStoreUnreachableError(this.baseUrl, describeFetchFailure(error, this.timeoutMs));
    }
    const body = parseJson(text);
    if (!response.ok) throw toApiError(response.status, body, text);
    if (body === undefined) throw new UnexpectedResponseError(`${method} ${path} answered ${response.status} without a JSON body`);
    return body;
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toApiError(status: number, body: unknown, text: string): ApiError {
  if (isRecord(body) && isRecord(body.error) && typeof body.error.code === 'string') {
    const { code, message, details } = body.error;
    return new ApiError(status, code, typeof message === 'string' ? message : '', Array.isArray(details) ? details : []);
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(status, `HTTP_${status}`, snippet === '' ? 'the role store answered without an error body' : snippet, []);
}

function describeFetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  // undici reports the socket error as the cause of a generic "fetch failed".
  const cause = error instanceof Error ? error.cause : undefined;
  if (isRecord(cause) && typeof cause.code === 'string') return cause.code;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

type Guard<T> = (value: unknown) => value is T;

function expect<T>(value: unknown, guard: Guard<T>, what: string): T {
  if (!guard(value)) throw new UnexpectedResponseError(`the role store did not answer with ${what}`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayOf<T>(guard: Guard<T>): Guard<T[]> {
  return (value: unknown): value is T[] => Array.isArray(value) && value.every(guard);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isInt = (value: unknown): value is number => Number.isInteger(value);
const isStringOrNull = (value: unknown): value is string | null => value === null || typeof value === 'string';
const isOneOf = (value: unknown, allowed: readonly string[]): boolean => typeof value === 'string' && allowed.includes(value);

function isHostSummary(value: unknown): value is HostSummaryView {
  return (
    isRecord(value) &&
    isString(value.id) &&
    isString(value.hostname) &&
    isOneOf(value.state, HOST_STATES) &&
    typeof value.online === 'boolean' &&
    isStringOrNull(value.lastHeartbeatAt)
  );
}

function isHostRole(value: unknown): value is HostRoleView {
  return (
    isRecord(value) &&
    isString(value.name) &&
    isString(value.version) &&
    isRecord(value.config) &&
    isInt(value.desiredGeneration) &&
    (value.appliedGeneration === null || isInt(value.appliedGeneration)) &&
    isOneOf(value.state, [...ROLE_STATES, 'pending']) &&
    isStringOrNull(value.message) &&
    isInt(value.failures)
  );
}

/** `info` is a stored heartbeat: checked with the contract's own validator on a copy, so --json prints it as sent. */
function isHeartbeatOrNull(value: unknown): value is HostHeartbeatEvent | null {
  return value === null || validatePlain(HostHeartbeatEvent, structuredClone(value), { forbidUnknown: false }).ok;
}

function isHostDetail(value: unknown): value is HostDetailView {
  return (
    isHostSummary(value) &&
    isRecord(value) &&
    isHeartbeatOrNull(value.info) &&
    arrayOf(isHostRole)(value.roles) &&
    isNodeletOrNone(value.nodelet) &&
    isOneOf(value.brokerIdentity, BROKER_IDENTITIES)
  );
}

/** `nodelet`: null, or left out by a plane from before it (read as null). */
function isNodeletOrNone(value: unknown): value is HostNodeletView | null | undefined {
  if (value === null || value === undefined) return true;
  const isPhase = (p: unknown): boolean => isRecord(p) && isInt(p.order) && isString(p.name) && isOneOf(p.state, NODELET_PHASE_STATES) && isString(p.message) && isInt(p.attempts);
  return isRecord(value) && isOneOf(value.state, NODELET_NODE_STATES) && isString(value.clusterId) && isString(value.role) && isInt(value.attempt) && Array.isArray(value.phases) && value.phases.every(isPhase);
}

const BROKER_IDENTITIES = ['own', 'shared-insecure', 'none'] as const;

function isDecommission(value: unknown): value is HostDecommissionView {
  return (
    isRecord(value) &&
    isString(value.hostId) &&
    value.state === 'decommissioned' &&
    isOneOf(value.brokerUser, ['deleted', 'pending', 'none']) &&
    typeof value.certificateRevoked === 'boolean'
  );
}

function isHostStateResult<S extends 'authorized' | 'unauthorized'>(state: S): Guard<{ hostId: string; state: S }> {
  return (value: unknown): value is { hostId: string; state: S } =>
    isRecord(value) && isString(value.hostId) && value.state === state;
}

function isRoleUpload(value: unknown): value is RoleUploadView {
  return isRecord(value) && isString(value.name) && isString(value.version) && isString(value.sha256);
}

function isRoleVersion(value: unknown): value is RoleVersionView {
  return isRecord(value) && isString(value.version) && isString(value.sha256) && isString(value.uploadedAt);
}

function isRoleView(value: unknown): value is RoleView {
  return isRecord(value) && isString(value.name) && arrayOf(isRoleVersion)(value.versions);
}

function isAssignResult(value: unknown): value is RoleAssignResult {
  return (
    isRecord(value) && isString(value.hostId) && isString(value.role) && isString(value.version) && isInt(value.generation)
  );
}

function isJoinTokenView(value: unknown): value is JoinTokenView {
  return isRecord(value) && isString(value.token) && value.token !== '' && isString(value.expiresAt) && (value.hostId === undefined || isString(value.hostId));
}

function isUnassignResult(value: unknown): value is RoleUnassignResult {
  return isRecord(value) && isString(value.hostId) && isString(value.role) && isInt(value.generation);
}

function isRetryResult(value: unknown): value is RoleRetryResult {
  return isRecord(value) && isString(value.hostId) && isString(value.role) && isInt(value.generation) && isInt(value.retry);
}

function isTokenView(value: unknown): value is OperatorTokenView {
  return (
    isRecord(value) &&
    isString(value.id) &&
    isString(value.name) &&
    isOneOf(value.role, OPERATOR_ROLES) &&
    isString(value.createdAt) &&
    isStringOrNull(value.expiresAt) &&
    isStringOrNull(value.revokedAt)
  );
}

function isTokenCreated(value: unknown): value is OperatorTokenCreatedView {
  return isRecord(value) && isString(value.id) && isString(value.name) && isOneOf(value.role, OPERATOR_ROLES) && isString(value.token) && isStringOrNull(value.expiresAt);
}

function isAuditRecord(value: unknown): value is AuditRecordView {
  return (
    isRecord(value) &&
    isString(value.id) &&
    isString(value.at) &&
    isString(value.actor) &&
    isString(value.action) &&
    isString(value.target) &&
    isString(value.outcome) &&
    isRecord(value.details) &&
    isInt(value.seq) &&
    isString(value.source) &&
    isString(value.prevHash) &&
    isString(value.hash)
  );
}
