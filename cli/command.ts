import type { RoleStoreClient } from './api-client';
import { terminalJson } from './terminal-text';

/** The environment variables the CLI reads, and nothing else. */
export interface CliEnv {
  /** Base URL of the role store REST API. */
  HOSTPLANE_API?: string;
  /** The plane's HTTP port (CONTRACT.md section 7): used for a local plane when HOSTPLANE_API is unset. */
  PF9_API_PORT?: string;
  /** The plane's data directory, for commands that work on it locally (pki init), and where the first admin token is. */
  PF9_DATA_DIR?: string;
  /** The operator's bearer token (CONTRACT.md section 8). */
  HOSTPLANE_TOKEN?: string;
  /** A file holding the token, when HOSTPLANE_TOKEN is unset. */
  HOSTPLANE_TOKEN_FILE?: string;
  /** Where `audit verify` remembers the last record it verified: $XDG_STATE_HOME, else $HOME/.local/state. */
  XDG_STATE_HOME?: string;
  HOME?: string;
}

/** Where a command writes; process.stdout in production, a collector in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** What every command gets: the API, where to print, and how (tables or raw JSON). */
export interface CommandContext {
  api: RoleStoreClient;
  stdout: TextSink;
  json: boolean;
  /** Relative file arguments are resolved against this directory. */
  cwd: string;
  /** The environment as cli.config.ts read it, for defaults of local commands. */
  env: CliEnv;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Names the value of a string option in the usage, e.g. "V" in "--version V". */
  value?: string;
  /** May be given more than once; the values come as a string array. */
  multiple?: boolean;
  description: string;
}

export interface Command {
  /** The words that select it, e.g. ["hosts", "list"]. */
  path: readonly string[];
  /** Names of its positional arguments, all required. */
  args: readonly string[];
  options: Readonly<Record<string, OptionSpec>>;
  summary: string;
  run(ctx: CommandContext, args: readonly string[], options: OptionValues): Promise<void>;
}

/** The command line itself is wrong: exit 2 and point at the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do its job for a reason the user can act on: exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Prints a value as the raw JSON the API answered (for --json), terminal controls escaped (the same JSON value). */
export function printJson(out: TextSink, value: unknown): void {
  out.write(`${terminalJson(value)}\n`);
}

/** "ENOENT" rather than a stack: file errors are the user's to fix. */
export function ioErrorText(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
