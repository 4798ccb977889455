import { spawn, type ChildProcess } from 'node:child_process';
import type { CommsStatus } from '#contracts';
import type { Logger } from '#logging';
import { STOP_WITH_PARENT_VARIABLE } from '../../libs/lifetime';

export interface CommsWatchdogOptions {
  /** Started with `sh -c`: a long-running comms (supervised here) or a restart command such as `systemctl restart pf9-comms`. */
  command: string;
  healthUrl: string;
  checkIntervalMs: number;
  /** Failed health checks in a row before a restart. */
  failuresBeforeRestart: number;
  env: NodeJS.ProcessEnv;
}

/**
 * Watches pf9-comms: when it dies or stops answering its health check, it is started
 * again (Platform9's hostagent does the same). A restart kills the whole process group
 * of what the command started, so a hung comms cannot linger. What the command starts
 * runs in a session of its own (so that the group can be killed whole), which no signal to
 * the agent's group reaches: so it is stopped on every exit of the agent, and it gets a pipe
 * on its standard input with PF9_STOP_WITH_PARENT=1, which pf9-comms takes to stop when
 * the agent is gone however it went (SIGKILL included).
 */
export class CommsWatchdog {
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private restarts = 0;
  private lastRestartAt: string | undefined;
  private lastRestartReason: string | undefined;
  private state: CommsStatus['state'] = 'down';
  private stopped = false;
  /** Runs as the agent's process exits, whatever the path: the last chance to stop comms. */
  private readonly onExit = (): void => {
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) signalGroup(pid, 'SIGTERM');
  };

  constructor(
    private readonly options: CommsWatchdogOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts comms unless one already answers (e.g. started by systemd), then watches it. */
  async start(): Promise<void> {
    process.on('exit', this.onExit);
    if (await this.probe()) {
      this.state = 'running';
      this.logger.info('pf9-comms answers already (started by another supervisor): watching it, not starting one', { healthUrl: this.options.healthUrl });
    } else this.launch();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.killChild();
    process.off('exit', this.onExit);
  }

  /** The process the command started, while it runs. */
  pid(): number | undefined {
    return this.child?.pid;
  }

  status(): CommsStatus {
    return { state: this.state, restarts: this.restarts, lastRestartAt: this.lastRestartAt, lastRestartReason: this.lastRestartReason };
  }

  /** Resolves once comms answers its health check (or rejects after timeoutMs). */
  async healthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.probe()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pf9-comms did not answer at ${this.options.healthUrl} within ${timeoutMs} ms`);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.options.checkIntervalMs);
  }

  private async check(): Promise<void> {
    const exited = this.child !== null && (this.child.exitCode !== null || this.child.signalCode !== null);
    const ok = await this.probe();
    if (ok) {
      this.failures = 0;
      this.state = 'running';
    } else {
      this.failures += 1;
      // A comms that exited is not coming back by waiting; one that hangs gets a few chances.
      if (exited || this.failures >= this.options.failuresBeforeRestart) {
        await this.restart(exited ? `exited (${this.child?.exitCode ?? this.child?.signalCode})` : `no answer to ${this.failures} health checks`);
      }
    }
    this.schedule();
  }

  private async probe(): Promise<boolean> {
    try {
      const res = await fetch(this.options.healthUrl, { signal: AbortSignal.timeout(Math.min(2000, this.options.checkIntervalMs)) });
      return res.ok;
    } catch {
      return false;
    }
  }

  private async restart(reason: string): Promise<void> {
    if (this.stopped) return;
    this.restarts += 1;
    this.lastRestartAt = new Date().toISOString();
    this.lastRestartReason = reason;
    this.state = 'restarting';
    this.failures = 0;
    this.logger.warn('pf9-comms is not healthy; restarting it', { reason, restarts: this.restarts });
    await this.killChild();
    this.launch();
  }

  private launch(): void {
    const child = spawn('/bin/sh', ['-c', this.options.command], {
      env: { ...this.options.env, [STOP_WITH_PARENT_VARIABLE]: '1' },
      detached: true,
      // Nothing is written to it: its end, when this process is gone, is the message.
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.on('error', (err) => this.logger.error('cannot start pf9-comms', { err: String(err) }));
    child.stdin?.on('error', () => undefined);
    this.child = child;
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const pgid = child.pid;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(pgid, 'SIGTERM');
    await Promise.race([gone, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
    // Whatever is left of the group (a stopped or hung process ignores SIGTERM) goes now.
    signalGroup(pgid, 'SIGKILL');
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
