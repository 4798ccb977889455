import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  ErrorCodes,
  type OperatorRole,
  type OperatorTokenCreatedView,
  type OperatorTokenCreateRequest,
  type OperatorTokenView,
  type TokenReviewResult,
} from '#contracts';
import { Injectable } from '@nestjs/common';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { writeFileAtomic } from '#private-fs';
import { hashOperatorToken, newOperatorToken, OPERATOR_TOKEN_PATTERN } from './operator-token';
import { Clock } from '../core/clock';
import { OperatorTokensRepository, type OperatorToken } from './operator-tokens.repository';

/** The file a plane that has no admin token writes one to (CONTRACT.md section 8). */
export const ADMIN_TOKEN_FILE = 'admin.token';

/** Who a request acts as, once authenticated. */
export type Principal =
  | { kind: 'token'; id: string; name: string; role: OperatorRole }
  | { kind: 'amqp'; userId: string | undefined; role: OperatorRole };

/** What the audit log says acted: `token:<name>` or `amqp:<user_id or anonymous>`. */
export function actorOf(principal: Principal): string {
  return principal.kind === 'token' ? `token:${principal.name}` : `amqp:${principal.userId ?? 'anonymous'}`;
}

/** Operator tokens: made (shown once), listed without secrets, revoked at once, and checked on every request. */
@Injectable()
export class OperatorTokensService {
  constructor(
    private readonly tokens: OperatorTokensRepository,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async create(request: OperatorTokenCreateRequest, createdBy: string): Promise<OperatorTokenCreatedView> {
    const now = this.clock.now();
    // A name is who the audit log says acted: two tokens in use never share one.
    const inUse = (await this.tokens.list()).find((t) => t.name === request.name && t.revokedMs === null && (t.expiresMs === null || t.expiresMs > now));
    if (inUse !== undefined) throw new ApplicationError(ErrorCodes.conflict, `a token named ${request.name} is in use (${inUse.id}): revoke it first, or choose another name`);
    const secret = newOperatorToken();
    const token: OperatorToken = {
      id: randomUUID(),
      name: request.name,
      role: request.role,
      createdMs: now,
      expiresMs: request.ttlS === undefined ? null : now + request.ttlS * 1000,
      revokedMs: null,
      createdBy,
    };
    await this.tokens.insert(token, hashOperatorToken(secret));
    this.logger.info('operator token created', { id: token.id, name: token.name, role: token.role, createdBy });
    return { id: token.id, name: token.name, role: token.role, token: secret, expiresAt: iso(token.expiresMs) };
  }

  async list(): Promise<OperatorTokenView[]> {
    return (await this.tokens.list()).map(view);
  }

  async revoke(id: string): Promise<OperatorTokenView> {
    const token = await this.tokens.revoke(id, this.clock.now());
    if (token === null) throw new ApplicationError(ErrorCodes.notFound, `token ${id} is not known`);
    this.logger.info('operator token revoked', { id: token.id, name: token.name });
    return view(token);
  }

  /** The token behind a bearer secret, if it is one that may be used now. */
  async check(secret: string): Promise<{ ok: true; token: OperatorToken } | { ok: false; why: string }> {
    if (!OPERATOR_TOKEN_PATTERN.test(secret)) return { ok: false, why: 'not an operator token' };
    const token = await this.tokens.findByHash(hashOperatorToken(secret));
    if (token === null) return { ok: false, why: 'unknown token' };
    if (token.revokedMs !== null) return { ok: false, why: 'the token was revoked' };
    if (token.expiresMs !== null && token.expiresMs <= this.clock.now()) return { ok: false, why: 'the token expired' };
    return { ok: true, token };
  }

  /** `Authorization: Bearer <token>` to the principal it names; anything else is UNAUTHENTICATED. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer ([\x21-\x7e]{1,1024})$/i.exec(authorization?.trim() ?? '');
    if (!match) throw new ApplicationError(ErrorCodes.unauthenticated, authorization === undefined ? 'no operator token: send Authorization: Bearer <token>' : 'the Authorization header is not Bearer <token>');
    const checked = await this.check(match[1]!);
    if (!checked.ok) throw new ApplicationError(ErrorCodes.unauthenticated, `${checked.why}: send a valid operator token`);
    const { token } = checked;
    return { kind: 'token', id: token.id, name: token.name, role: token.role };
  }

  /** For pf9-bouncer (token.review): whether the secret is a usable token, and as whom Kubernetes should see it. */
  async review(secret: string): Promise<TokenReviewResult> {
    const checked = await this.check(secret);
    if (!checked.ok) return { authenticated: false };
    const { token } = checked;
    return { authenticated: true, user: { username: token.name, uid: token.id, groups: [`hostplane:${token.role}`] }, expiresAt: iso(token.expiresMs) };
  }

  /**
   * A plane with no usable admin token makes one and writes it to <dataDir>/admin.token
   * (0600, the token alone on a line); the log names the file, never the token.
   */
  async ensureFirstAdmin(dataDir: string): Promise<string | null> {
    if (await this.tokens.hasUsableAdmin(this.clock.now())) return null;
    const taken = new Set((await this.tokens.list()).map((t) => t.name));
    const name = taken.has('admin') ? `admin-${new Date(this.clock.now()).toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}` : 'admin';
    const created = await this.create({ name, role: 'admin' }, 'plane');
    const file = join(dataDir, ADMIN_TOKEN_FILE);
    await writeFileAtomic(file, `${created.token}\n`, 0o600);
    this.logger.warn('no admin token: made one; its secret is in the file (readable by this user only)', { file, id: created.id });
    return created.token;
  }
}

function view(token: OperatorToken): OperatorTokenView {
  return { id: token.id, name: token.name, role: token.role, createdAt: new Date(token.createdMs).toISOString(), expiresAt: iso(token.expiresMs), revokedAt: iso(token.revokedMs) };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
