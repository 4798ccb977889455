import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/** The repository root (tests run from dist/test/…). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const DIST = join(REPO_ROOT, 'dist');

/** Ports this process has handed out: never twice, so that ports taken one after another differ. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Runs the `hostplane` CLI and answers its output and exit code. */
/**
 * `hostplane` as a user runs it: against `api`, from `cwd` (the folder an all-in-one runs in,
 * where the CLI finds the plane's first admin token, `.data/plane/admin.token`, by itself).
 */
export async function cli(target: { api: string; cwd: string }, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const env = { ...process.env, HOSTPLANE_TOKEN: '', HOSTPLANE_TOKEN_FILE: '', PF9_DATA_DIR: '' };
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(DIST, 'cli/main.js'), '--api', target.api, ...args], { cwd: target.cwd, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A child process whose output is kept, with a way to wait for a line. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';

  /** `detached`: a session and process group of its own, as a service manager starts it. */
  constructor(script: string, env: NodeJS.ProcessEnv, cwd: string, options: { detached?: boolean } = {}) {
    this.child = spawn(process.execPath, [script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
    this.child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  async line(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before printing ${pattern}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async exit(timeoutMs: number): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    return Promise.race([
      new Promise<number | null>((r) => this.child.once('exit', (code) => r(code))),
      new Promise<number | null>((_, reject) => setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs)),
    ]);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }
}

/**
 * Live processes (zombies aside) that work in `dir` (their working directory is in it) or
 * were given it (their environment names it): what a test's services left running.
 */
export function processesUsing(dir: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`) || readFileSync(`/proc/${name}/environ`, 'utf8').includes(dir)) {
        found.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Whether nothing listens on 127.0.0.1:port. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
