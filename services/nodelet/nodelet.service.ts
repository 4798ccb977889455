import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '#logging';
import type { ControlAnswer, ControlRequest } from './control-socket';
import { setupStatusCgroup, type CpuCgroup } from './cpu-cgroup';
import { EtcdBackupJob, EtcdBackupRecordFile, findEtcdTools, type EtcdClientTls } from './etcd-backup';
import { writeKubeEnv } from './kube-env';
import { NodeletEngine, type OperationOutcome } from './nodelet.engine';
import { NodeletMetrics } from './nodelet.metrics';
import type { NodeletEnv } from './nodelet.config';
import { nodeletPaths, type NodeletPaths } from './nodelet.paths';
import { describeProblem, NodeConfigError, type NodeConfig } from './node-config';
import { readNodeConfigApart, type ConfigLoader } from './node-config.loader';
import { phasesFor, PhaseCatalogError, readPhaseCatalog, type Phase } from './phase-catalog';
import { PhaseRunner, type PhaseExecutor } from './phase-runner';
import { StatusFile, type KubeStatus } from './status-file';
import { loadOrCreateClusterKey, vrrpPassword } from './vrrp-password';

export type ConfigReason = 'start' | 'file' | 'explicit';

/**
 * What nodelet does on a host, for the daemon and for a `nodeletd` command run while no
 * daemon runs: the configuration (applied, or refused with the reason), kube.env, the
 * status cgroup, the engine and its status file, the etcd backup job, and the answers to
 * control requests. Every change to the node goes through `serial`, one at a time.
 */
export class NodeletService {
  readonly paths: NodeletPaths;
  readonly engine: NodeletEngine;
  readonly metrics = new NodeletMetrics();
  readonly backup: EtcdBackupJob;
  private readonly statusFile: StatusFile;
  private config: NodeConfig | null = null;
  private configError: string | null = null;
  /** The error in force came from the phase folder at a loop, not from the configuration files. */
  private catalogRefused = false;
  private cgroup: CpuCgroup | null = null;
  private cgroupKey = '';
  private clusterKey: Buffer | null = null;
  /** KEEPALIVED_AUTH_PASS for the configuration in force (VIP enabled), made when it is applied. */
  private vrrpPass: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private writes: Promise<void> = Promise.resolve();
  private busyWith: string | null = null;
  /** Raised by every configuration that changed what runs; a loop that ran with it settles it. */
  configGeneration = 0;
  settledGeneration = 0;
  /** Loop iterations run (for tests and operators: a held node still loops, doing nothing). */
  loops = 0;
  /** Asked to run the loop soon (the daemon sets it). */
  wake: () => void = () => undefined;

  constructor(
    readonly env: NodeletEnv,
    private readonly logger: Logger,
    runner?: PhaseExecutor,
    /** How the YAML files are read: apart, in the daemon; in-process where memory does not count (the CLI). */
    private readonly loadConfig: ConfigLoader = readNodeConfigApart,
  ) {
    this.paths = nodeletPaths(env.root);
    this.statusFile = new StatusFile(this.paths.statusFile);
    this.engine = new NodeletEngine({
      runner:
        runner ??
        new PhaseRunner({ kubeEnv: this.paths.kubeEnv, kubeOverrideEnv: this.paths.kubeOverrideEnv, root: this.paths.root, logFile: join(this.paths.logDir, 'phases.log') }),
      persist: (status) => this.writeStatus(status),
      logger: logger.child({ component: 'engine' }),
      cgroup: () => this.cgroup,
      phaseEnv: (phase) => this.phaseEnv(phase),
      onRun: (_phase, op, result) => this.metrics.phaseRuns.inc({ op, outcome: result.ok ? 'ok' : result.timedOut ? 'timeout' : 'failed' }),
    });
    this.backup = new EtcdBackupJob(
      new EtcdBackupRecordFile(join(this.paths.stateDir, 'etcd-backup.json')),
      findEtcdTools(env.etcdctl),
      logger.child({ component: 'etcd-backup' }),
      (outcome) => {
        this.metrics.backups.inc({ outcome });
        void this.writeStatus(this.engine.snapshot()).catch(() => undefined);
      },
    );
  }

  /** Reads what nodelet left on disk; then applyConfig('start'). */
  async open(): Promise<void> {
    await fs.mkdir(this.paths.stateDir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.paths.stateDir, 0o700);
    this.engine.restore(await this.statusFile.read());
    await this.backup.init();
  }

  get running(): NodeConfig | null {
    return this.config;
  }

  get busy(): string | null {
    return this.busyWith;
  }

  /** Runs `task` after everything queued before it. */
  serial<T>(label: string, task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      this.busyWith = label;
      try {
        return await task();
      } finally {
        this.busyWith = null;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Loads the configuration folder. A bad file (or phase folder) changes nothing that runs:
   * the error is logged, kept in the status file, and answered. `explicit` (the pf9-kube
   * role wrote it) also releases a hold.
   */
  async applyConfig(reason: ConfigReason): Promise<{ ok: boolean; error?: string; changed: boolean }> {
    let config: NodeConfig;
    let phases: Phase[];
    try {
      config = await this.loadConfig(this.paths.configDir, { phasesDir: this.env.defaultPhasesDir, etcdBackupDir: this.paths.defaultEtcdBackupDir });
      // A node nobody configured needs no phases (an install without the shipped ones is fine until then).
      phases = config.files.length === 0 && !existsSync(config.phasesDir) ? [] : phasesFor(await readPhaseCatalog(config.phasesDir), config.role);
    } catch (err) {
      // Whatever went wrong, what runs stays as it is.
      const message =
        err instanceof NodeConfigError ? err.problems.map(describeProblem).join('; ') : err instanceof Error ? err.message.replace(/\n\s*/g, ' ') : String(err);
      await this.refuse(message);
      return { ok: false, error: message, changed: false };
    }
    const previous = this.config;
    const changed = previous === null || previous.digest !== config.digest || !samePhases(this.engine.phases(), phases);
    if (changed && previous && !(await this.snapshotBeforeEtcdVersionChange(previous, config))) {
      return { ok: false, error: this.configError ?? 'etcd version change held', changed: false };
    }
    const configured = config.files.length > 0;
    if (configured) await writeKubeEnv(this.paths.kubeEnv, config.env);
    await this.setupCgroup(config);
    if (config.vip.enabled && this.clusterKey === null) this.clusterKey = await loadOrCreateClusterKey(join(this.paths.stateDir, 'cluster.key'));
    this.vrrpPass = config.vip.enabled && this.clusterKey !== null ? vrrpPassword(this.clusterKey, config.clusterId, config.vip.vrouterId) : null;
    this.engine.configure(config, phases);
    this.backup.configure(config.etcdBackup, etcdClientTls(config.env));
    this.config = config;
    if (this.configError !== null) this.logger.info('configuration valid again', { files: config.files.length });
    this.configError = null;
    this.catalogRefused = false;
    this.engine.setConfigError(null);
    if (changed) {
      this.configGeneration += 1;
      this.logger.info('configuration applied', { reason, role: config.role, clusterId: config.clusterId, kubeServiceState: config.kubeServiceState, phases: phases.length });
    }
    if (reason === 'explicit') this.engine.release('explicit');
    else if (changed && reason === 'file') this.engine.release('config-change');
    if (configured) await this.writeStatus(this.engine.snapshot());
    this.wake();
    return { ok: true, changed };
  }

  /** One loop iteration: phase folder looked at again, then the engine. */
  async loopOnce(): Promise<void> {
    this.loops += 1;
    const config = this.config;
    if (!config) return;
    const generation = this.configGeneration;
    if (config.kubeServiceState === 'ignore') {
      this.settledGeneration = generation;
      return;
    }
    try {
      const phases = phasesFor(await readPhaseCatalog(config.phasesDir), config.role);
      if (!samePhases(this.engine.phases(), phases)) this.engine.configure(config, phases);
      if (this.catalogRefused) {
        this.catalogRefused = false;
        this.configError = null;
        this.engine.setConfigError(null);
        this.logger.info('the phases are readable again');
      }
    } catch (err) {
      if (!(err instanceof PhaseCatalogError)) throw err;
      this.catalogRefused = true;
      await this.refuse(err.message.replace(/\n\s*/g, ' '));
      return;
    }
    await this.engine.reconcile();
    this.settledGeneration = generation;
  }

  /** A control request (from the `nodeletd` CLI). */
  async handle(request: ControlRequest): Promise<ControlAnswer> {
    switch (request.cmd) {
      case 'ping':
        return ok({ pid: process.pid, busy: this.busyWith });
      case 'state':
        return ok(this.stateView());
      case 'reload': {
        const result = await this.serial('reload', () => this.applyConfig(request.release === true ? 'explicit' : 'file'));
        return result.ok ? ok({ changed: result.changed, configGeneration: this.configGeneration }) : fail(result.error ?? 'invalid configuration');
      }
      case 'phases.list':
        return ok({ phases: this.phaseList() });
      case 'phases.status': {
        if (this.busyWith !== null) {
          // Busy (a loop, a start under way): the state as nodelet knows it, not another run of every check.
          const status = this.currentStatus();
          return ok({ busy: this.busyWith, running: status.pf9_kube_node_state === 'ok' && status.pf9_kube_service_state === 'true', status });
        }
        const running = await this.serial('phases status', async () => (this.requireConfig(), this.engine.checkNow()));
        return ok({ busy: null, running, status: this.currentStatus() });
      }
      case 'phases.start': {
        const index = this.phaseIndex(request.fromPhase, request.single === true);
        return this.outcome(await this.serial('phases start', () => this.withKubeEnv(() => this.engine.startPhases(index, request.single === true))));
      }
      case 'phases.stop': {
        const index = this.phaseIndex(request.tillPhase, request.single === true);
        return this.outcome(await this.serial('phases stop', () => this.withKubeEnv(() => this.engine.stopPhases(index, request.force === true, request.single === true))));
      }
      case 'phases.restart': {
        const index = this.phaseIndex(request.fromPhase, false);
        return this.outcome(await this.serial('phases restart', () => this.withKubeEnv(() => this.engine.restartPhases(index, request.regenCerts === true))));
      }
      case 'reset':
        return this.outcome(await this.serial('reset', () => this.reset()));
      case 'etcd-backup.now': {
        this.requireConfig();
        const info = await this.backup.runNow();
        return ok(info);
      }
      default:
        return fail(`unknown command ${request.cmd}`);
    }
  }

  /** Waits for queued work, then lets the last status write finish. */
  async close(): Promise<void> {
    this.backup.stop();
    await this.queue;
    await this.writes;
  }

  stateView(): Record<string, unknown> {
    return {
      status: this.currentStatus(),
      configGeneration: this.configGeneration,
      settledGeneration: this.settledGeneration,
      loops: this.loops,
      busy: this.busyWith,
      configError: this.configError,
      kubeServiceState: this.config?.kubeServiceState ?? null,
      configured: (this.config?.files.length ?? 0) > 0,
      hold: this.engine.held,
    };
  }

  currentStatus(): KubeStatus {
    const status = this.engine.snapshot();
    const backup = this.backup.status();
    return backup ? { ...status, etcd_backup: backup } : status;
  }

  phaseList(): Array<{ index: number; order: number; name: string; file: string }> {
    return this.engine.phases().map((p, i) => ({ index: i + 1, order: p.order, name: p.name, file: p.file }));
  }

  private async reset(): Promise<OperationOutcome> {
    this.requireConfig();
    const outcome = await this.withKubeEnv(() => this.engine.reset());
    await this.writes;
    for (const file of [this.paths.statusFile, this.paths.kubeEnv, join(this.paths.stateDir, 'cluster.key'), join(this.paths.stateDir, 'etcd-backup.json')]) {
      await fs.rm(file, { force: true });
    }
    this.clusterKey = null;
    this.vrrpPass = null;
    await this.backup.init();
    this.logger.info('reset: every phase stopped, state removed; waiting for a new configuration', { ok: outcome.ok });
    return outcome;
  }

  /** kube.env is on disk before any phase runs at an operator's request, whatever the configuration. */
  private async withKubeEnv<T>(task: () => Promise<T>): Promise<T> {
    const config = this.requireConfig();
    await writeKubeEnv(this.paths.kubeEnv, config.env);
    return task();
  }

  private async refuse(message: string): Promise<void> {
    if (message !== this.configError) this.logger.error('configuration refused; what runs is left as it is', { error: message });
    this.configError = message;
    this.engine.setConfigError(message);
    await this.writeStatus(this.engine.snapshot());
  }

  private async snapshotBeforeEtcdVersionChange(previous: NodeConfig, next: NodeConfig): Promise<boolean> {
    if (previous.etcdVersion === '' || previous.etcdVersion === next.etcdVersion || previous.role !== 'master') return true;
    this.logger.info('etcd version changes: taking a snapshot first', { from: previous.etcdVersion, to: next.etcdVersion });
    try {
      const info = await this.backup.runNow();
      this.logger.info('snapshot before the etcd version change', { file: info.file, revision: info.revision });
      return true;
    } catch (err) {
      if (!(await etcdAnswers(previous.etcdBackup.endpoint))) {
        this.logger.warn('etcd does not answer: the version change goes ahead without a snapshot', { err: String(err) });
        return true;
      }
      await this.refuse(`etcd version change from ${previous.etcdVersion} to ${next.etcdVersion} held: the snapshot before it failed: ${(err as Error).message}`);
      return false;
    }
  }

  private async setupCgroup(config: NodeConfig): Promise<void> {
    const key = `${config.useCgroups}:${config.cpuLimit}`;
    if (key === this.cgroupKey) return;
    this.cgroupKey = key;
    if (!config.useCgroups) {
      this.cgroup = null;
      return;
    }
    const setup = await setupStatusCgroup(this.env.cgroupRoot, config.cpuLimit);
    if (setup.ok) {
      this.cgroup = setup.cgroup;
      this.logger.info('status checks run in a CPU-limited cgroup', { cgroup: setup.cgroup.dirs, cpuLimitPct: config.cpuLimit, version: setup.cgroup.version });
    } else {
      this.cgroup = null;
      this.logger.warn('status checks run unconfined', { reason: setup.reason });
    }
  }

  private phaseEnv(phase: Phase): Record<string, string> {
    if (this.vrrpPass === null || !/keepalived/i.test(phase.name)) return {};
    return { KEEPALIVED_AUTH_PASS: this.vrrpPass };
  }

  private async writeStatus(status: KubeStatus): Promise<void> {
    const backup = this.backup.status();
    const merged = backup ? { ...status, etcd_backup: backup } : status;
    this.metrics.observe(merged);
    // Nothing is written for a node nobody configured (nor after a reset, until a new configuration).
    if ((this.config?.files.length ?? 0) === 0 && this.configError === null) return;
    const write = this.writes.then(() => this.statusFile.write(merged));
    this.writes = write.catch((err: unknown) => this.logger.error('cannot write the status file', { err: String(err) }));
    return write;
  }

  private phaseIndex(value: unknown, single: boolean): number {
    const count = this.engine.phases().length;
    const n = value === undefined ? 0 : Number(value);
    if (!Number.isInteger(n) || n < 0 || n > count) throw new Error(`phase number ${String(value)}: expected 0 (all) to ${count} (see nodeletd phases list)`);
    if (single && n === 0) throw new Error('--single needs a phase number from 1 (see nodeletd phases list)');
    return n === 0 ? 0 : n - 1;
  }

  private outcome(outcome: OperationOutcome): ControlAnswer {
    return outcome.ok ? ok({ message: outcome.message, status: this.currentStatus() }) : fail(outcome.message, { status: this.currentStatus() });
  }

  private requireConfig(): NodeConfig {
    if (!this.config) throw new Error(`no valid nodelet configuration${this.configError ? `: ${this.configError}` : ''}`);
    return this.config;
  }
}

function ok(result: unknown): ControlAnswer {
  return { ok: true, result };
}

function fail(error: string, result?: unknown): ControlAnswer {
  return result === undefined ? { ok: false, error } : { ok: false, error, result };
}

function samePhases(a: readonly Phase[], b: readonly Phase[]): boolean {
  return a.length === b.length && a.every((p, i) => p.path === b[i].path);
}

function etcdClientTls(env: Record<string, string>): EtcdClientTls {
  return { cacert: env.ETCD_BACKUP_CACERT || undefined, cert: env.ETCD_BACKUP_CERT || undefined, key: env.ETCD_BACKUP_KEY || undefined };
}

/** Whether etcd's /health answers 200 within 3 s (node:http, already loaded: fetch would load a client library for this alone). */
function etcdAnswers(endpoint: string): Promise<boolean> {
  const url = new URL('/health', endpoint);
  const client = url.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http');
  return new Promise((resolve) => {
    const req = client.get(url, { timeout: 3000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}
