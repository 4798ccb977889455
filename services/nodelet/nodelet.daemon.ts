import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '#logging';
import { startAdminListener, type AdminListener } from './admin.listener';
import { listenControl, SocketBusyError, type ControlServer } from './control-socket';
import type { NodeletEnv } from './nodelet.config';
import { NodeletService } from './nodelet.service';
import type { PhaseExecutor } from './phase-runner';

/**
 * The nodelet daemon: takes the control socket (waiting while a `nodeletd` command holds
 * it), applies the configuration, runs the loop every LOOP_INTERVAL seconds (and at once
 * after a configuration change), looks at the configuration folder for changes, and
 * serves /healthz and /metrics.
 */
export class NodeletDaemon {
  readonly service: NodeletService;
  private control: ControlServer | null = null;
  private admin: AdminListener | null = null;
  private loopTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private looping = false;
  private wakeAgain = false;
  private stopped = false;
  private configSignature = '';
  private markReady: () => void = () => undefined;
  /** Control requests wait for this: the state read and the configuration applied. */
  private readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    private readonly env: NodeletEnv,
    private readonly logger: Logger,
    runner?: PhaseExecutor,
  ) {
    this.service = new NodeletService(env, logger, runner);
    this.service.wake = () => this.scheduleLoop(0);
  }

  get adminUrl(): string | undefined {
    return this.admin?.url;
  }

  async start(): Promise<void> {
    await this.takeControlSocket();
    await this.service.open();
    this.configSignature = await this.signature();
    await this.service.serial('configuration', () => this.service.applyConfig('start'));
    this.markReady();
    this.admin = await startAdminListener(this.env.admin, () => this.service.metrics.metrics(), this.service.metrics.contentType, () => this.health(), this.logger);
    this.logger.info('nodelet started', { root: this.env.root, admin: this.admin.url, socket: this.service.paths.controlSocket });
    this.schedulePoll();
    this.scheduleLoop(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.loopTimer) clearTimeout(this.loopTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.control?.close();
    await this.service.close();
    await this.admin?.close();
  }

  private health(): object {
    const status = this.service.currentStatus();
    return {
      nodeState: status.pf9_kube_node_state,
      attempt: status.pf9_kube_start_attempt,
      busy: this.service.busy,
      configError: status.nodelet_config_error,
    };
  }

  private async takeControlSocket(): Promise<void> {
    const path = this.service.paths.controlSocket;
    let said = false;
    for (;;) {
      try {
        this.control = await listenControl(path, async (request) => {
          await this.ready;
          return this.service.handle(request);
        });
        return;
      } catch (err) {
        if (!(err instanceof SocketBusyError)) throw err;
        if (!said) this.logger.warn('a nodeletd command holds the node; waiting for it to finish', { socket: path });
        said = true;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private scheduleLoop(delayMs: number): void {
    if (this.stopped) return;
    if (this.looping) {
      if (delayMs === 0) this.wakeAgain = true;
      return;
    }
    if (this.loopTimer) clearTimeout(this.loopTimer);
    this.loopTimer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    this.loopTimer = null;
    this.looping = true;
    try {
      await this.service.serial('loop', () => this.service.loopOnce());
    } catch (err) {
      this.logger.error('loop iteration failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    } finally {
      this.looping = false;
    }
    const again = this.wakeAgain;
    this.wakeAgain = false;
    this.scheduleLoop(again ? 0 : (this.service.running?.loopIntervalS ?? 60) * 1000);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(async () => {
      try {
        const signature = await this.signature();
        if (signature !== this.configSignature) {
          this.configSignature = signature;
          await this.service.serial('configuration', () => this.service.applyConfig('file'));
        }
      } catch (err) {
        this.logger.error('cannot look at the configuration', { err: String(err) });
      }
      this.schedulePoll();
    }, this.env.configPollMs);
  }

  /** Names and contents of the YAML files (small): what a change of configuration changes. */
  private async signature(): Promise<string> {
    const dir = this.service.paths.configDir;
    const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /\.ya?ml$/.test(n)).sort();
    const parts: string[] = [];
    for (const name of names) parts.push(name, await fs.readFile(join(dir, name), 'utf8').catch(() => '\0unreadable'));
    return parts.join('\0');
  }
}
