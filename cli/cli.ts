import { parseArgs } from 'node:util';
import { RolePackageError } from '#role-package';
import { ApiError, RoleStoreClient, RoleStoreUnreachableError, UnexpectedResponseError } from './api-client';
import { resolveApiUrl, resolveToken, type CliEnv } from './cli.config';
import { auditCommands } from './audit.command';
import { bouncerCommands } from './bouncer.command';
import { CliError, UsageError, type Command, type OptionSpec, type OptionValues, type TextSink } from './command';
import { hostsCommands } from './hosts.command';
import { joinTokenCommands } from './join-token.command';
import { pkiCommands } from './pki.command';
import { roleCommands } from './role.command';
import { rolesCommands } from './roles.command';
import { tokenCommands } from './token.command';
import { printableSink } from './terminal-text';

export const COMMANDS: readonly Command[] = [...hostsCommands, ...rolesCommands, ...roleCommands, ...joinTokenCommands, ...pkiCommands, ...bouncerCommands, ...tokenCommands, ...auditCommands];

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  api: { type: 'string', value: 'URL', description: 'the role store (default: $HOSTPLANE_API, else http://127.0.0.1:$PF9_API_PORT, else http://127.0.0.1:8080)' },
  token: { type: 'string', value: 'TOKEN', description: 'the operator token (default: $HOSTPLANE_TOKEN, else the file $HOSTPLANE_TOKEN_FILE, else $PF9_DATA_DIR/admin.token)' },
  json: { type: 'boolean', description: 'print the raw JSON answer instead of a table' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export interface CliDeps {
  stdout: TextSink;
  stderr: TextSink;
  env: CliEnv;
  cwd: string;
}

/** Runs one command line and answers the exit code; never throws. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  let command: Command | undefined;
  let group: string | undefined;
  try {
    const { positionals, values } = parse(argv, allOptions());
    const words = positionals[0] === 'help' ? positionals.slice(1) : positionals;
    group = words[0];
    command = findCommand(words);
    if (values.help === true || positionals[0] === 'help' || positionals.length === 0) {
      deps.stdout.write(command ? commandUsage(command) : usage(words[0]));
      return EXIT_OK;
    }
    if (!command) {
      const subcommands = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === group).map((c) => c.path[1]);
      if (subcommands.length > 0 && words.length === 1) throw new UsageError(`"${group}" needs one of: ${subcommands.join(', ')}`);
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
    const args = positionals.slice(command.path.length);
    if (args.length !== command.args.length) {
      throw new UsageError(`"${command.path.join(' ')}" takes ${describeArgs(command)}, got ${args.length} argument(s)`);
    }
    const options = parse(argv, { ...GLOBAL_OPTIONS, ...command.options }).values;
    const apiUrl = resolveApiUrl(stringOption(options.api), deps.env);
    const api = new RoleStoreClient(apiUrl, { token: resolveToken(stringOption(options.token), deps.env, deps.cwd, apiUrl) });
    const json = options.json === true;
    // Tables and messages carry what hosts reported: no terminal control gets through (JSON escapes its own).
    await command.run({ api, stdout: json ? deps.stdout : printableSink(deps.stdout), json, cwd: deps.cwd, env: deps.env }, args, options);
    return EXIT_OK;
  } catch (error: unknown) {
    return report(error, command, group, printableSink(deps.stderr));
  }
}

function parse(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): { positionals: string[]; values: OptionValues } {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
  try {
    const { positionals, values } = parseArgs({ args: [...argv], options: config, allowPositionals: true, strict: true });
    // Only string options are ever `multiple`, so every array holds strings.
    return { positionals, values: values as OptionValues };
  } catch (error: unknown) {
    // parseArgs names the option that is unknown or misused; that message is the usage error.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Every option of every command: enough to find the command words before the strict parse. */
function allOptions(): Record<string, OptionSpec> {
  return Object.fromEntries([GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)].flatMap((options) => Object.entries(options)));
}

function findCommand(words: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c.path.every((word, i) => words[i] === word));
}

function stringOption(value: OptionValues[string]): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function describeArgs(command: Command): string {
  return command.args.length === 0 ? 'no arguments' : command.args.map((a) => `<${a}>`).join(' ');
}

/** "-o FILE" in a synopsis, "-o, --output FILE" in an option list. */
function optionUsage(name: string, spec: OptionSpec, form: 'synopsis' | 'list'): string {
  const value = spec.value ? ` ${spec.value}` : '';
  if (!spec.short) return `--${name}${value}`;
  return form === 'synopsis' ? `-${spec.short}${value}` : `-${spec.short}, --${name}${value}`;
}

function synopsis(command: Command): string {
  const options = Object.entries(command.options).map(([name, spec]) => `[${optionUsage(name, spec, 'synopsis')}]${spec.multiple ? '...' : ''}`);
  return [...command.path, ...command.args.map((a) => `<${a}>`), ...options].join(' ');
}

function commandUsage(command: Command): string {
  const lines = [`usage: hostplane ${synopsis(command)}`, '', command.summary];
  const options = { ...command.options, ...GLOBAL_OPTIONS };
  lines.push('', 'options:', ...optionLines(options));
  return `${lines.join('\n')}\n`;
}

/** The whole usage, or only one group's commands when `group` names one. */
export function usage(group?: string): string {
  const inGroup = COMMANDS.filter((c) => c.path[0] === group);
  const shown = inGroup.length > 0 ? inGroup : COMMANDS;
  // Summary under each synopsis: synopses with options are too long to share a line.
  const entries = [...shown.map((c) => [synopsis(c), c.summary] as const), ['help [command]', 'show usage'] as const];
  return [
    'usage: hostplane [--api URL] [--token TOKEN] [--json] <command>',
    '',
    'commands:',
    ...entries.flatMap(([s, summary]) => [`  ${s}`, `      ${summary}`]),
    '',
    'options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => [optionUsage(name, spec, 'list'), spec.description] as const);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  return rows.map(([usage, description]) => `  ${usage.padEnd(width)}  ${description}`);
}

function report(error: unknown, command: Command | undefined, group: string | undefined, stderr: TextSink): number {
  if (error instanceof UsageError) {
    stderr.write(`error: ${error.message}\n`);
    stderr.write(command ? `usage: hostplane ${synopsis(command)}\n` : `\n${usage(group)}`);
    return EXIT_USAGE;
  }
  if (error instanceof ApiError) {
    stderr.write(`error: ${error.code}: ${error.message}\n${detailLines(error.details)}`);
  } else if (error instanceof RolePackageError) {
    // Its message only summarises the details, which are printed one per line.
    stderr.write(`error: ${error.code}: not a valid role package\n${detailLines(error.details)}`);
  } else if (error instanceof RoleStoreUnreachableError) {
    stderr.write(`error: ${error.message}\n  is the plane running? set --api or HOSTPLANE_API to its URL\n`);
  } else if (error instanceof CliError) {
    stderr.write(`error: ${error.message}\n${detailLines(error.details)}`);
  } else if (error instanceof UnexpectedResponseError) {
    stderr.write(`error: ${error.message}\n`);
  } else {
    stderr.write(`error: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  return EXIT_FAILED;
}

/** Details are strings, or validation details {path, problems}, or anything else the store sends. */
function detailLines(details: readonly unknown[]): string {
  return details.map((d) => `  - ${describeDetail(d)}\n`).join('');
}

function describeDetail(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (typeof detail === 'object' && detail !== null && 'problems' in detail && Array.isArray(detail.problems)) {
    const path = 'path' in detail && typeof detail.path === 'string' && detail.path !== '' ? `${detail.path}: ` : '';
    return `${path}${detail.problems.map(String).join('; ')}`;
  }
  return JSON.stringify(detail);
}
