import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DEFAULT_JOIN_TOKEN_TTL_S, type JoinTokenCreateRequest, type JoinTokenView } from '#contracts';
import { Logger } from '#logging';
import { Clock } from '../core/clock';
import { JoinRepository } from './join.repository';

/** Expired tokens are kept this long (who used which, when), then forgotten. */
const KEEP_EXPIRED_MS = 30 * 24 * 60 * 60 * 1000;

/** The only form in which the plane keeps a token. */
export function hashJoinToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** One-time join tokens for operators to hand to new hosts, or to one host that must register again. */
@Injectable()
export class JoinTokensService {
  constructor(
    private readonly repository: JoinRepository,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async create(request: JoinTokenCreateRequest): Promise<JoinTokenView> {
    const now = this.clock.now();
    const expiresMs = now + (request.ttlS ?? DEFAULT_JOIN_TOKEN_TTL_S) * 1000;
    const token = randomBytes(32).toString('base64url');
    const hostId = request.hostId ?? null;
    await this.repository.insertToken(hashJoinToken(token), now, expiresMs, hostId);
    await this.repository.pruneTokens(now - KEEP_EXPIRED_MS);
    const expiresAt = new Date(expiresMs).toISOString();
    this.logger.info('join token created', { expiresAt, hostId });
    return hostId === null ? { token, expiresAt } : { token, expiresAt, hostId };
  }
}
