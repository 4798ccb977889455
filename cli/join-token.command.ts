import { HOST_ID_PATTERN, MAX_JOIN_TOKEN_TTL_S, type JoinTokenCreateRequest } from '#contracts';
import { printJson, UsageError, type Command } from './command';

const joinTokenCreate: Command = {
  path: ['join-token', 'create'],
  args: [],
  options: {
    ttl: { type: 'string', value: 'SECONDS', description: 'how long the token is valid (default: 24 h)' },
    host: { type: 'string', value: 'ID', description: 'only this host id may join with it; needed to re-register a host' },
  },
  summary: 'create a one-time token with which a new host joins the plane, or (--host) a registered one joins again',
  async run(ctx, _args, options) {
    const request: JoinTokenCreateRequest = {};
    if (typeof options.ttl === 'string') request.ttlS = parseTtl(options.ttl);
    if (typeof options.host === 'string') request.hostId = parseHostId(options.host);
    const result = await ctx.api.createJoinToken(request);
    if (ctx.json) return printJson(ctx.stdout, result);
    // The token alone, so that TOKEN=$(hostplane join-token create) works; --json adds its expiry.
    ctx.stdout.write(`${result.token}\n`);
  },
};

export const joinTokenCommands: readonly Command[] = [joinTokenCreate];

function parseTtl(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > MAX_JOIN_TOKEN_TTL_S) {
    throw new UsageError(`--ttl must be a whole number of seconds from 1 to ${MAX_JOIN_TOKEN_TTL_S}, got "${text}"`);
  }
  return seconds;
}

function parseHostId(text: string): string {
  if (!HOST_ID_PATTERN.test(text)) throw new UsageError(`--host must be a host id (1-64 letters, digits, "_" or "-"), got "${text}"`);
  return text;
}
