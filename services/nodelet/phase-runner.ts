import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { CpuCgroup } from './cpu-cgroup';
import { shellSingleQuote } from './kube-env';
import type { Phase } from './phase-catalog';

export type PhaseOp = 'start' | 'stop' | 'status';

export interface PhaseRunRequest {
  phase: Phase;
  op: PhaseOp;
  timeoutMs: number;
  /** Status checks join this cgroup before anything else runs. */
  cgroup: CpuCgroup | null;
  /** Variables for this run beside kube.env (nodelet's own, secrets): never written to a file. */
  env: Record<string, string>;
}

export interface PhaseRunResult {
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The last lines of its output (stdout and stderr together). */
  lines: string[];
}

export interface PhaseExecutor {
  run(request: PhaseRunRequest): Promise<PhaseRunResult>;
}

export interface PhaseRunnerOptions {
  kubeEnv: string;
  kubeOverrideEnv: string;
  root: string;
  /** Output of starts, stops and failed status checks is appended here. */
  logFile: string;
  /** PATH for phases, unless kube_override.env sets another. */
  path?: string;
  /** The Node.js that runs `.js` and `.ts` phases. */
  nodePath?: string;
  killGraceMs?: number;
  /** Output lines kept for the status file. */
  tailLines?: number;
  logRotateBytes?: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TAIL_BYTES = 64 * 1024;
const LOG_CAP_BYTES = 256 * 1024;
const LINE_MAX = 300;
/** How long to keep reading after the phase exited while something it left behind holds its output open. */
const DRAIN_MS = 300;

/**
 * Runs `<phase> start|stop|status` the way every phase is run: in its own process group,
 * with kube.env and then kube_override.env sourced into its environment by a small sh
 * wrapper (which first moves itself into the status cgroup, so everything the check starts
 * is limited), killed with its children past its time limit, answering by its exit code.
 */
function ended(stream: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

export class PhaseRunner implements PhaseExecutor {
  private readonly path: string;
  private readonly nodePath: string;
  private readonly killGraceMs: number;
  private readonly tailLines: number;
  private readonly logRotateBytes: number;

  constructor(private readonly options: PhaseRunnerOptions) {
    this.path = options.path ?? DEFAULT_PATH;
    this.nodePath = options.nodePath ?? process.execPath;
    this.killGraceMs = options.killGraceMs ?? 2000;
    this.tailLines = options.tailLines ?? 10;
    this.logRotateBytes = options.logRotateBytes ?? 4 * 1024 * 1024;
  }

  async run(request: PhaseRunRequest): Promise<PhaseRunResult> {
    const started = Date.now();
    const { phase, op } = request;
    const command = this.command(phase, op);
    const wrapper = this.wrapper(request.cgroup);
    const chunks: Buffer[] = [];
    let kept = 0;
    const logChunks: Buffer[] = [];
    let logged = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      kept += chunk.length;
      while (kept - chunks[0].length >= TAIL_BYTES) kept -= chunks.shift()!.length;
      if (logged < LOG_CAP_BYTES) {
        logChunks.push(chunk.subarray(0, LOG_CAP_BYTES - logged));
        logged += Math.min(chunk.length, LOG_CAP_BYTES - logged);
      }
    };

    let timedOut = false;
    const outcome = await new Promise<{ exitCode: number | null; signal: string | null; spawnError?: string }>((resolve) => {
      const child = spawn('/bin/sh', ['-c', wrapper, 'nodelet-phase', ...command], {
        cwd: dirname(phase.path),
        env: {
          PATH: this.path,
          HOME: process.env.HOME ?? '/root',
          LANG: 'C.UTF-8',
          PF9_ROOT: this.options.root,
          KUBE_ENV: this.options.kubeEnv,
          KUBE_OVERRIDE_ENV: this.options.kubeOverrideEnv,
          NODELET_PHASE: phase.name,
          NODELET_PHASE_ORDER: String(phase.order),
          NODELET_OP: op,
          ...request.env,
        },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      let settled = false;
      const finish = (value: { exitCode: number | null; signal: string | null; spawnError?: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        // Something the phase left running may hold the pipes: read a little longer, then let go.
        const done = (): void => {
          clearTimeout(drain);
          child.stdout.destroy();
          child.stderr.destroy();
          resolve(value);
        };
        const drain = setTimeout(done, DRAIN_MS);
        Promise.all([ended(child.stdout), ended(child.stderr)]).then(done, done);
      };
      let killTimer: NodeJS.Timeout | null = null;
      const timer = setTimeout(() => {
        timedOut = true;
        void this.killAll(child.pid, request.cgroup, 'SIGTERM');
        killTimer = setTimeout(() => void this.killAll(child.pid, request.cgroup, 'SIGKILL'), this.killGraceMs);
      }, request.timeoutMs);
      child.once('error', (err) => finish({ exitCode: null, signal: null, spawnError: err.message }));
      child.once('exit', (code, signal) => {
        // The group may still hold children of a timed-out phase: they go too.
        if (timedOut) void this.killAll(child.pid, request.cgroup, 'SIGKILL');
        finish({ exitCode: code, signal });
      });
    });

    const durationMs = Date.now() - started;
    const text = Buffer.concat(chunks).toString('utf8');
    const lines = text
      .split('\n')
      .map((l) => l.replace(/\s+$/, ''))
      .filter((l) => l !== '')
      .slice(-this.tailLines)
      .map((l) => (l.length > LINE_MAX ? `${l.slice(0, LINE_MAX)}…` : l));
    if (outcome.spawnError !== undefined) lines.push(`nodelet: cannot run ${phase.file}: ${outcome.spawnError}`);
    if (timedOut) lines.push(`nodelet: ${phase.file} ${op} ran past its time limit (${Math.round(request.timeoutMs / 1000)} s) and was killed`);
    const ok = !timedOut && outcome.exitCode === 0;
    if (op !== 'status' || !ok) {
      await this.appendLog(phase, op, ok, outcome, timedOut, durationMs, Buffer.concat(logChunks), logged >= LOG_CAP_BYTES).catch(() => undefined);
    }
    return { ok, exitCode: outcome.exitCode, signal: outcome.signal, timedOut, durationMs, lines };
  }

  private command(phase: Phase, op: PhaseOp): string[] {
    switch (phase.kind) {
      case 'sh':
        return [phase.path, op];
      case 'js':
        return [this.nodePath, phase.path, op];
      case 'ts':
        // Node 22.6+ runs TypeScript by erasing its types; Node 24 does it unflagged.
        return [this.nodePath, '--experimental-strip-types', '--no-warnings=ExperimentalWarning', phase.path, op];
    }
  }

  private wrapper(cgroup: CpuCgroup | null): string {
    const join = (cgroup?.procsFiles ?? []).map((f) => `echo $$ > ${shellSingleQuote(f)} || echo "nodelet: cannot join ${f}" >&2`);
    const kubeEnv = shellSingleQuote(this.options.kubeEnv);
    const override = shellSingleQuote(this.options.kubeOverrideEnv);
    return [
      ...join,
      'set -a',
      `if [ -f ${kubeEnv} ]; then . ${kubeEnv}; fi`,
      `if [ -f ${override} ]; then . ${override}; fi`,
      'set +a',
      'exec "$@"',
    ].join('\n');
  }

  /** The phase's process group, and whatever else sits in the status cgroup (its children that left the group). */
  private async killAll(pid: number | undefined, cgroup: CpuCgroup | null, signal: NodeJS.Signals): Promise<void> {
    if (pid !== undefined) {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    }
    for (const file of cgroup?.procsFiles ?? []) {
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      for (const word of text.split(/\s+/)) {
        const member = Number(word);
        if (!Number.isInteger(member) || member <= 1 || member === process.pid) continue;
        try {
          process.kill(member, signal);
        } catch {
          // gone, or not ours to signal
        }
      }
    }
  }

  private async appendLog(
    phase: Phase,
    op: PhaseOp,
    ok: boolean,
    outcome: { exitCode: number | null; signal: string | null },
    timedOut: boolean,
    durationMs: number,
    output: Buffer,
    truncated: boolean,
  ): Promise<void> {
    const file = this.options.logFile;
    await fs.mkdir(dirname(file), { recursive: true });
    const size = (await fs.stat(file).catch(() => null))?.size ?? 0;
    if (size > this.logRotateBytes) await fs.rename(file, `${file}.1`).catch(() => undefined);
    const result = timedOut ? 'timed out' : outcome.exitCode !== null ? `exit ${outcome.exitCode}` : `signal ${outcome.signal}`;
    const header = `=== ${new Date().toISOString()} ${phase.file} ${op}: ${ok ? 'ok' : 'FAILED'} (${result}, ${durationMs} ms) ===\n`;
    const tail = truncated ? `\n[nodelet: output cut at ${LOG_CAP_BYTES} bytes]\n` : output.length > 0 && output[output.length - 1] !== 0x0a ? '\n' : '';
    await fs.appendFile(file, Buffer.concat([Buffer.from(header), output, Buffer.from(tail)]), { mode: 0o600 });
  }
}
