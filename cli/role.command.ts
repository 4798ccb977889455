import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RoleAssignRequest } from './api-client';
import { CliError, ioErrorText, printJson, UsageError, type Command, type OptionValues } from './command';

const roleAssign: Command = {
  path: ['role', 'assign'],
  args: ['hostId', 'role'],
  options: {
    version: { type: 'string', value: 'V', description: 'role version (default: the newest uploaded)' },
    config: { type: 'string', value: 'JSON', description: "the role's config, a JSON object" },
    'config-file': { type: 'string', value: 'F', description: 'read the config from a JSON file' },
  },
  summary: 'assign a role to a host, or change its version or config',
  async run(ctx, [hostId, role], options) {
    const request: RoleAssignRequest = {};
    if (typeof options.version === 'string') request.version = options.version;
    const config = await readConfig(options, ctx.cwd);
    if (config !== undefined) request.config = config;
    const result = await ctx.api.assignRole(hostId, role, request);
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(`role ${result.role} ${result.version} assigned to host ${result.hostId} (generation ${result.generation})\n`);
  },
};

const roleUnassign: Command = {
  path: ['role', 'unassign'],
  args: ['hostId', 'role'],
  options: {},
  summary: 'remove a role from a host',
  async run(ctx, [hostId, role]) {
    const result = await ctx.api.unassignRole(hostId, role);
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(`role ${result.role} unassigned from host ${result.hostId} (generation ${result.generation})\n`);
  },
};

const roleRetry: Command = {
  path: ['role', 'retry'],
  args: ['hostId', 'role'],
  options: {},
  summary: 'ask a host to try a role whose apply failed again now, not at its next backoff',
  async run(ctx, [hostId, role]) {
    const result = await ctx.api.retryRole(hostId, role);
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(`host ${result.hostId} asked to try role ${result.role} again now (generation ${result.generation}, retry ${result.retry})\n`);
  },
};

export const roleCommands: readonly Command[] = [roleAssign, roleUnassign, roleRetry];

/** Checked before any request: the contract wants a JSON object, and a typo should not reach a host. */
async function readConfig(options: OptionValues, cwd: string): Promise<Record<string, unknown> | undefined> {
  const inline = options.config;
  const file = options['config-file'];
  if (typeof inline === 'string' && typeof file === 'string') {
    throw new UsageError('give either --config or --config-file, not both');
  }
  if (typeof inline === 'string') return parseConfig(inline, '--config');
  if (typeof file === 'string') {
    const path = resolve(cwd, file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error: unknown) {
      throw new CliError(`cannot read config file ${path}: ${ioErrorText(error)}`);
    }
    return parseConfig(text, `config file ${path}`);
  }
  return undefined;
}

function parseConfig(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw new UsageError(`${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${source} must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}
