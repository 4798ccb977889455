import { MAX_OPERATOR_TOKEN_TTL_S, OPERATOR_ROLES, OPERATOR_TOKEN_NAME_PATTERN, type OperatorRole, type OperatorTokenCreateRequest } from '#contracts';
import { printJson, UsageError, type Command } from './command';
import { formatTable } from './table';

const tokenCreate: Command = {
  path: ['token', 'create'],
  args: [],
  options: {
    name: { type: 'string', value: 'NAME', description: 'who the token is for: the audit log says token:<name>' },
    role: { type: 'string', value: 'ROLE', description: 'viewer (reads), operator (changes hosts and roles) or admin (tokens too)' },
    ttl: { type: 'string', value: 'SECONDS', description: 'how long the token is valid (default: until revoked)' },
  },
  summary: 'create an operator token (admin); the token is printed this once',
  async run(ctx, _args, options) {
    if (typeof options.name !== 'string' || !OPERATOR_TOKEN_NAME_PATTERN.test(options.name)) {
      throw new UsageError('--name is required: 1-63 lower-case letters, digits, ".", "_" or "-"');
    }
    if (typeof options.role !== 'string' || !(OPERATOR_ROLES as readonly string[]).includes(options.role)) {
      throw new UsageError(`--role is required: one of ${OPERATOR_ROLES.join(', ')}`);
    }
    const request: OperatorTokenCreateRequest = { name: options.name, role: options.role as OperatorRole };
    if (typeof options.ttl === 'string') request.ttlS = parseTtl(options.ttl);
    const created = await ctx.api.createToken(request);
    if (ctx.json) return printJson(ctx.stdout, created);
    // The token alone, so that TOKEN=$(hostplane token create …) works.
    ctx.stdout.write(`${created.token}\n`);
  },
};

const tokenList: Command = {
  path: ['token', 'list'],
  args: [],
  options: {},
  summary: 'list operator tokens (admin), never their secrets',
  async run(ctx) {
    const tokens = await ctx.api.listTokens();
    if (ctx.json) return printJson(ctx.stdout, tokens);
    const rows = tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.expiresAt ?? '-', t.revokedAt ?? '-']);
    ctx.stdout.write(formatTable(['ID', 'NAME', 'ROLE', 'CREATED', 'EXPIRES', 'REVOKED'], rows));
  },
};

const tokenRevoke: Command = {
  path: ['token', 'revoke'],
  args: ['id'],
  options: {},
  summary: 'revoke an operator token at once (admin)',
  async run(ctx, [id]) {
    const revoked = await ctx.api.revokeToken(id ?? '');
    if (ctx.json) return printJson(ctx.stdout, revoked);
    ctx.stdout.write(`token ${revoked.id} (${revoked.name}) revoked at ${revoked.revokedAt ?? '?'}\n`);
  },
};

export const tokenCommands: readonly Command[] = [tokenCreate, tokenList, tokenRevoke];

function parseTtl(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > MAX_OPERATOR_TOKEN_TTL_S) {
    throw new UsageError(`--ttl must be a whole number of seconds from 1 to ${MAX_OPERATOR_TOKEN_TTL_S}, got "${text}"`);
  }
  return seconds;
}
