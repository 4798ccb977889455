import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * A long-running program we did not write (haproxy, nginx, stunnel, or a node service)
 * started in its own process group, so that stop() ends it with every worker it forked.
 * Its output is kept for the error message when it does not come up.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  private kept = '';
  private readonly logFile: string | undefined;
  private exited: Promise<void>;

  /**
   * With `logFile`, its output goes straight to that file (a benchmark's processes must
   * not make this one read their logs); otherwise it is kept here through pipes.
   */
  constructor(
    readonly name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {},
  ) {
    this.logFile = options.logFile;
    const fd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
    const stdio = fd === undefined ? (['ignore', 'pipe', 'pipe'] as const) : (['ignore', fd, fd] as const);
    this.child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: [...stdio], detached: true });
    if (fd !== undefined) closeSync(fd);
    const keep = (chunk: Buffer): void => {
      // Only the tail matters, and a chatty proxy must not grow this without limit.
      this.kept = (this.kept + chunk.toString()).slice(-16_384);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('error', (err) => keep(Buffer.from(`\n${command}: ${err.message}\n`)));
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
  }

  /** The last 16 KiB of what it printed. */
  get output(): string {
    if (this.logFile === undefined) return this.kept;
    const fd = openSync(this.logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const buffer = Buffer.alloc(Math.min(size, 16_384));
      readSync(fd, buffer, 0, buffer.length, size - buffer.length);
      return buffer.toString() + this.kept;
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Resolves once host:port accepts a TCP connection; fails if the process exits first or the deadline passes. */
  async listening(host: string, port: number, timeoutMs = 10_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before listening on ${host}:${port}:\n${this.output}`);
      if (await accepts(host, port)) return this;
      if (Date.now() > deadline) throw new Error(`${this.name} does not listen on ${host}:${port} after ${timeoutMs} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM to the whole process group, SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || !this.running) return;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** For a process that is exiting in a hurry: SIGKILL to the group, synchronously. */
export function killNow(proc: ServiceProcess): void {
  if (proc.running && proc.child.pid !== undefined) signalGroup(proc.child.pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

/** The path of `command` on PATH (or its absolute path), or undefined when it is not installed. */
export function installed(command: string, versionArgs: string[] = ['-v']): string | undefined {
  const result = spawnSync(command, versionArgs, { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return undefined;
  // The line that names the program (stunnel prints its configuration chatter first).
  const lines = `${result.stdout}${result.stderr}`.split('\n').map((line) => line.trim());
  return lines.find((line) => /\d+\.\d+/.test(line) && line.toLowerCase().includes(command.toLowerCase())) ?? lines.find((line) => line !== '') ?? command;
}
