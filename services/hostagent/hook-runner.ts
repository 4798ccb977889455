import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROLE_STATUS_LOG_MAX_BYTES } from '#contracts';
import type { Logger } from '#logging';
import { errnoCode } from './fs-primitives';

export interface HookRunOptions {
  /** The hook's name in role.json, e.g. `configure`; for the log. */
  hook: string;
  /** Absolute path of the hook's executable. */
  executable: string;
  cwd: string;
  /** The hook's whole environment besides PATH (the agent's own is not passed on). */
  env: Record<string, string>;
  /** Written to the hook's standard input, which is then closed; empty when left out. */
  stdin?: string;
  timeoutMs: number;
  /** Combined output is appended here, up to the runner's cap. */
  logFile: string;
  /** Keep standard output apart, up to this many bytes (for hooks whose output is data, like getConfig). */
  captureStdoutBytes?: number;
}

export interface HookResult {
  /** Exit code 0, within the time limit. */
  succeeded: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The last ≤16 KiB of combined stdout and stderr, cut at a character boundary. */
  tail: string;
  /** Everything the hook printed, counted in bytes. */
  outputBytes: number;
  /** The log file lacks part of the output, which went past the cap. */
  truncated: boolean;
  /** Why the hook could not be started at all (ENOENT, EACCES, ...); null when it ran. */
  spawnError: string | null;
  /** Standard output alone, when captureStdoutBytes asked for it; cut at that many bytes. */
  stdout?: string;
}

export interface HookRunnerOptions {
  /** Most bytes of one run's output written to its log file. */
  logCapBytes?: number;
  /** Between SIGTERM and SIGKILL to the hook's process group after a timeout. */
  killGraceMs?: number;
  /**
   * How long to keep reading after the hook exited while something it left in the background
   * still holds its stdout or stderr open.
   */
  outputDrainMs?: number;
  /** PATH for hooks, unless their env sets one. */
  path?: string;
  now?: () => Date;
  logger?: Logger;
}

export const HOOK_TAIL_MAX_BYTES = ROLE_STATUS_LOG_MAX_BYTES;
export const DEFAULT_HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const GROUP_POLL_MS = 25;
/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Outcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  spawnError: string | null;
}

/** Runs one role hook in its own process group, with a time limit, a bounded log and an output tail. */
export class HookRunner {
  private readonly logCapBytes: number;
  private readonly killGraceMs: number;
  private readonly outputDrainMs: number;
  private readonly path: string;
  private readonly now: () => Date;
  private readonly logger: Logger | undefined;

  constructor(options: HookRunnerOptions = {}) {
    this.logCapBytes = options.logCapBytes ?? 1024 * 1024;
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.outputDrainMs = options.outputDrainMs ?? 2000;
    this.path = options.path ?? DEFAULT_HOOK_PATH;
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger;
  }

  /** Never rejects: a hook that cannot run is a failed result. */
  async run(opts: HookRunOptions): Promise<HookResult> {
    const started = performance.now();
    const log = await HookLog.open(opts.logFile, this.logCapBytes, this.logger);
    log.line(`=== ${this.now().toISOString()} hook ${opts.hook}: ${opts.executable} ===`);
    const tail = new TailBuffer(HOOK_TAIL_MAX_BYTES);
    let outputBytes = 0;
    const onOutput = (chunk: Buffer): void => {
      outputBytes += chunk.length;
      tail.push(chunk);
      log.output(chunk);
    };
    /** The agent's own remarks go where the output goes, so whoever reads the tail sees them. */
    const note = (text: string): void => {
      const line = Buffer.from(`hostagent: ${text}\n`);
      tail.push(line);
      log.output(line);
    };

    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    const capture = opts.captureStdoutBytes;
    const onStdout =
      capture === undefined
        ? undefined
        : (chunk: Buffer): void => {
            if (stdoutBytes >= capture) return;
            const part = chunk.subarray(0, capture - stdoutBytes);
            stdoutChunks.push(part);
            stdoutBytes += part.length;
          };

    let outcome: Outcome;
    try {
      const child = spawn(opts.executable, [], {
        cwd: opts.cwd,
        env: { PATH: this.path, ...opts.env },
        detached: true, // its own process group, so a timeout can kill everything it started
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const leash = child.pid === undefined ? null : leashHook(child.pid, this.killGraceMs);
      try {
        outcome = await this.supervise(child, opts, onOutput, note, onStdout);
      } finally {
        leash?.release();
      }
    } catch (err) {
      // spawn() throws synchronously for bad arguments (e.g. a NUL byte in the environment).
      outcome = { exitCode: null, signal: null, timedOut: false, spawnError: describeError(err) };
    }
    if (outcome.spawnError !== null) {
      const problem = await explainSpawnError(outcome.spawnError, opts);
      outcome.spawnError = problem;
      note(`cannot run hook ${opts.hook}: ${problem}`);
    }

    const durationMs = Math.round(performance.now() - started);
    if (log.dropped > 0) log.line(`[hostagent: ${log.dropped} more bytes of output dropped past the ${this.logCapBytes}-byte log cap]`);
    log.line(`=== hook ${opts.hook} ${describeOutcome(outcome)} after ${durationMs} ms ===`);
    await log.close();

    return {
      succeeded: outcome.spawnError === null && !outcome.timedOut && outcome.exitCode === 0,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      durationMs,
      tail: tail.text(),
      outputBytes,
      truncated: log.dropped > 0,
      spawnError: outcome.spawnError,
      ...(capture === undefined ? {} : { stdout: Buffer.concat(stdoutChunks).toString('utf8') }),
    };
  }

  private supervise(
    child: ChildProcess,
    opts: HookRunOptions,
    onOutput: (chunk: Buffer) => void,
    note: (text: string) => void,
    onStdout?: (chunk: Buffer) => void,
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let exit: { code: number | null; signal: string | null } | null = null;
      let timedOut = false;
      let streamsOpen = 2;
      let groupSettled = true; // false from a timeout's SIGTERM until the group is gone or got SIGKILL
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const pid = child.pid;

      const finish = (outcome: Outcome): void => {
        if (done) return;
        done = true;
        for (const t of timers) {
          clearTimeout(t);
          clearInterval(t);
        }
        resolve(outcome);
      };
      const maybeFinish = (): void => {
        if (exit !== null && streamsOpen === 0 && groupSettled) {
          finish({ exitCode: exit.code, signal: exit.signal, timedOut, spawnError: null });
        }
      };

      for (const stream of [child.stdout, child.stderr]) {
        if (stream === null) {
          streamsOpen--;
          continue;
        }
        stream.on('data', onOutput);
        if (stream === child.stdout && onStdout) stream.on('data', onStdout);
        stream.on('error', () => undefined); // destroyed below when a background process holds it
        stream.on('close', () => {
          streamsOpen--;
          maybeFinish();
        });
      }

      // A hook that does not read its input makes the write fail with EPIPE; that is its business.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.stdin ?? '');

      child.on('error', (err) => {
        if (child.pid === undefined) finish({ exitCode: null, signal: null, timedOut: false, spawnError: describeError(err) });
        else this.logger?.warn('hook process error', { hook: opts.hook, err });
      });

      let timeout: NodeJS.Timeout | undefined;
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // What the hook left running on purpose (a service's daemon) is not ours to kill.
        clearTimeout(timeout);
        // Something started in the background may keep our pipes open forever; stop reading after a while.
        timers.push(
          setTimeout(() => {
            if (streamsOpen === 0) return;
            note(`hook ${opts.hook} exited but a process it left behind still holds its output; no longer reading`);
            child.stdout?.destroy();
            child.stderr?.destroy();
          }, this.outputDrainMs),
        );
        maybeFinish();
      });

      if (pid === undefined) return; // the 'error' event follows
      timeout = setTimeout(() => {
        timedOut = true;
        groupSettled = false;
        note(`hook ${opts.hook} timed out after ${opts.timeoutMs} ms; sending SIGTERM to its process group`);
        timers.push(
          this.terminateGroup(pid, () => {
            groupSettled = true;
            maybeFinish();
          }),
        );
      }, Math.min(opts.timeoutMs, MAX_TIMER_MS));
      timers.push(timeout);
    });
  }

  /** SIGTERM to the group, then SIGKILL once the grace period is over unless the group is gone by then. */
  private terminateGroup(pgid: number, settled: () => void): NodeJS.Timeout {
    signalGroup(pgid, 'SIGTERM', this.logger);
    const deadline = performance.now() + this.killGraceMs;
    const poll = setInterval(() => {
      const gone = !groupAlive(pgid);
      if (!gone && performance.now() < deadline) return;
      clearInterval(poll);
      if (!gone) signalGroup(pgid, 'SIGKILL', this.logger);
      settled();
    }, GROUP_POLL_MS);
    return poll;
  }
}

/**
 * A hook runs in a group of its own, which no signal to the agent reaches: a watcher (a
 * shell, in a session of its own) holds a pipe from the agent and kills the hook's group
 * when that pipe ends without a word, i.e. when the agent is gone however it went (SIGKILL
 * included) while the hook runs. `release` says the word once the hook is done: what it
 * left running on purpose (a role's daemon) stays.
 */
function leashHook(pgid: number, graceMs: number): { release(): void } {
  const graceS = Math.max(1, Math.ceil(graceMs / 1000));
  const watcher = spawn('/bin/sh', ['-c', `read -r _ || { kill -s TERM -- "-$1"; sleep ${graceS}; kill -s KILL -- "-$1"; }`, 'pf9-hook-leash', String(pgid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watcher.on('error', () => undefined);
  watcher.stdin?.on('error', () => undefined);
  // Neither the watcher nor its pipe keeps the agent alive.
  watcher.unref();
  (watcher.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  return { release: () => void watcher.stdin?.end('done\n') };
}

/** ESRCH (the group is already gone) is success; EPERM can only be reported, not fixed, from here. */
function signalGroup(pgid: number, signal: NodeJS.Signals, logger: Logger | undefined): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (errnoCode(err) !== 'ESRCH') logger?.warn('cannot signal hook process group', { pgid, signal, err });
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

function describeOutcome(o: Outcome): string {
  if (o.spawnError !== null) return 'could not be started';
  const how = o.exitCode !== null ? `exited with code ${o.exitCode}` : `was killed by ${o.signal ?? 'an unknown signal'}`;
  return o.timedOut ? `timed out and ${how}` : how;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Node reports a missing working directory as the executable's ENOENT; say which it was. */
async function explainSpawnError(message: string, opts: HookRunOptions): Promise<string> {
  if (!/ENOENT/.test(message)) return message;
  try {
    await fs.access(opts.cwd);
  } catch {
    return `${message} (working directory ${opts.cwd} does not exist)`;
  }
  return message;
}

/** The log file of a run: append-only, capped, and never the reason a hook fails. */
class HookLog {
  dropped = 0;
  private written = 0;

  private constructor(
    private readonly stream: WriteStream | null,
    private readonly capBytes: number,
  ) {}

  static async open(file: string, capBytes: number, logger: Logger | undefined): Promise<HookLog> {
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
      stream.on('error', (err) => logger?.warn('cannot write hook log', { file, err }));
      return new HookLog(stream, capBytes);
    } catch (err) {
      logger?.warn('cannot open hook log; running the hook without it', { file, err });
      return new HookLog(null, capBytes);
    }
  }

  line(text: string): void {
    this.stream?.write(text + '\n');
  }

  output(chunk: Buffer): void {
    const room = this.capBytes - this.written;
    if (room >= chunk.length) {
      this.written += chunk.length;
      this.stream?.write(chunk);
      return;
    }
    const keep = room > 0 ? utf8Boundary(chunk, room) : 0;
    if (keep > 0) {
      this.stream?.write(chunk.subarray(0, keep));
      this.stream?.write('\n');
    }
    this.written = this.capBytes;
    this.dropped += chunk.length - keep;
  }

  close(): Promise<void> {
    const stream = this.stream;
    if (stream === null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // A write error has already destroyed the stream: then there is nothing left to wait for.
      if (stream.destroyed) return resolve();
      stream.once('close', () => resolve());
      stream.end();
    });
  }
}

/** The largest length ≤ limit that does not end inside a UTF-8 sequence. */
function utf8Boundary(buf: Buffer, limit: number): number {
  let end = limit;
  while (end > 0 && end < buf.length && (buf[end] & 0xc0) === 0x80) end--;
  return end;
}

/** Keeps the last `maxBytes` bytes pushed into it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].length >= this.maxBytes) {
      this.bytes -= this.chunks[0].length;
      this.chunks.shift();
    }
  }

  /** As text of at most `maxBytes` UTF-8 bytes, starting at a character boundary. */
  text(): string {
    const all = Buffer.concat(this.chunks);
    let start = Math.max(0, all.length - this.maxBytes);
    for (let i = 0; i < 3 && start < all.length && (all[start] & 0xc0) === 0x80; i++) start++;
    let text = all.subarray(start).toString('utf8');
    // Invalid bytes decode to U+FFFD, three bytes each, which can push the text past the limit.
    let excess = Buffer.byteLength(text, 'utf8') - this.maxBytes;
    if (excess > 0) {
      let cut = 0;
      for (const ch of text) {
        if (excess <= 0) break;
        excess -= Buffer.byteLength(ch, 'utf8');
        cut += ch.length;
      }
      text = text.slice(cut);
    }
    return text;
  }
}
