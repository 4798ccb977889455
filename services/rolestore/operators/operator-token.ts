import { createHash, randomBytes } from 'node:crypto';

/** What every operator token starts with: a secret scanner can tell it from other strings. */
export const OPERATOR_TOKEN_PREFIX = 'hp_';

/** 256 random bits, base64url, after the prefix. */
export function newOperatorToken(): string {
  return `${OPERATOR_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * The only form in which the plane keeps a token. A fast hash is right here: the token is
 * 256 random bits, so there is nothing to guess that a slow hash would protect.
 */
export function hashOperatorToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** What looks like a token at all (anything else is refused before the database is asked). */
export const OPERATOR_TOKEN_PATTERN = /^hp_[A-Za-z0-9_-]{43}$/;
