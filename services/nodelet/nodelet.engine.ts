import { extname, join } from 'node:path';
import type { Logger } from '#logging';
import type { CpuCgroup } from './cpu-cgroup';
import type { NodeConfig } from './node-config';
import { isCertificatesPhase, type Phase, type PhaseKind } from './phase-catalog';
import type { PhaseExecutor, PhaseOp, PhaseRunResult } from './phase-runner';
import { emptyStatus, type KubeStatus, type NodeState, type PhaseState, type PhaseStatus } from './status-file';

/** What the engine needs of the configuration. */
export type EngineConfig = Pick<
  NodeConfig,
  'role' | 'clusterId' | 'kubeServiceState' | 'fullRetryCount' | 'phaseRetry' | 'statusTimeoutS' | 'phaseTimeoutS' | 'phasesDir' | 'loopIntervalS'
>;

export interface EngineDeps {
  runner: PhaseExecutor;
  /** Persists the status at every transition (atomically). */
  persist: (status: KubeStatus) => Promise<void>;
  logger: Logger;
  /** The status cgroup in force (null: unconfined). */
  cgroup: () => CpuCgroup | null;
  /** Variables a phase gets besides kube.env (never written to a file). */
  phaseEnv: (phase: Phase) => Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Told of every phase operation (metrics). */
  onRun?: (phase: Phase, op: PhaseOp, result: PhaseRunResult) => void;
}

export type Hold = 'none' | 'manual' | 'reset';

export interface OperationOutcome {
  ok: boolean;
  /** What went wrong, for a person. */
  message: string;
}

/**
 * nodelet's state machine, in one place.
 *
 * Each loop (`reconcile`), with KUBE_SERVICE_STATE true: every phase's status in order,
 * stopping at the first that fails. All pass: the node is `ok` and the attempt count goes
 * back to 0 (only here). One fails: that is attempt k (k = previous + 1); the phases from
 * the last down to the failed one are stopped in reverse and started again from the failed
 * one, then every status is checked once more. Every FULL_RETRY_COUNT-th attempt stops
 * everything in reverse and starts from the first phase. The certificates phase stays
 * as it is unless its own status failed. Node state: `converging` while no attempt has
 * failed, `retrying` after one failed, `failed` once FULL_RETRY_COUNT attempts in a row
 * failed (attempts go on). KUBE_SERVICE_STATE false stops everything and keeps it stopped;
 * ignore leaves the node alone. A change of role, cluster or phase set stops the phases
 * that ran, in reverse, before the new ones start.
 */
export class NodeletEngine {
  private status: KubeStatus = emptyStatus();
  /** The phases the status describes (what runs, or ran, on this node). */
  private active: Phase[] = [];
  private desired: Phase[] = [];
  private config: EngineConfig | null = null;
  private hold: Hold = 'none';
  /** An attempt is under way (one interrupted by a restart of nodelet counts as failed). */
  private attemptInProgress = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(private readonly deps: EngineDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = deps.now ?? (() => new Date());
  }

  /** Takes up the state nodelet left on disk: the phases it ran and where each stood. */
  restore(saved: KubeStatus | null): void {
    if (!saved) return;
    this.status = { ...saved, current_status_check: '', current_task: '', nodelet_hold: false, nodelet_config_error: null };
    const dir = saved.nodelet_phases_dir;
    this.active = saved.phases.map((p, i) => {
      const file = saved.nodelet_phase_files[i] ?? `${p.order}-${p.name}.sh`;
      return { order: p.order, name: p.name, file, path: join(dir, file), kind: extname(file).slice(1) as PhaseKind, roles: [] };
    });
  }

  /** A new configuration and the phases its role runs; applied at the next reconcile. */
  configure(config: EngineConfig, phases: Phase[]): void {
    this.config = config;
    this.desired = phases;
    this.status.nodelet_kube_service_state = config.kubeServiceState;
    this.status.nodelet_loop_interval_s = config.loopIntervalS;
    if (!this.anyStarted()) this.switchToDesired();
  }

  setConfigError(message: string | null): void {
    this.status.nodelet_config_error = message;
  }

  /** Releases a hold: `manual` only when asked explicitly, `reset` also on a change of configuration. */
  release(kind: 'explicit' | 'config-change'): void {
    if (this.hold === 'reset' || kind === 'explicit') this.hold = 'none';
    this.status.nodelet_hold = this.hold !== 'none';
  }

  get held(): Hold {
    return this.hold;
  }

  snapshot(): KubeStatus {
    return copy(this.status);
  }

  phases(): readonly Phase[] {
    return this.active;
  }

  /** One loop iteration. */
  async reconcile(): Promise<void> {
    const config = this.config;
    if (!config || config.kubeServiceState === 'ignore' || this.hold !== 'none') return;
    if (this.identity(this.active) !== this.identity(this.desired) || this.status.pf9_cluster_role !== config.role || this.status.pf9_cluster_id !== config.clusterId) {
      if (this.anyStarted()) {
        this.deps.logger.info('role, cluster or phases changed: stopping what ran, in reverse', { from: this.status.pf9_cluster_role, to: config.role });
        await this.stopChain(0, { force: true, keepCerts: false, onlyStarted: true });
      }
      this.switchToDesired();
    }
    if (config.kubeServiceState === 'false') {
      if (this.anyStarted()) await this.stopChain(0, { force: true, keepCerts: false, onlyStarted: true });
      this.status.pf9_kube_service_state = 'false';
      this.status.pf9_kube_start_attempt = 0;
      this.status.pf9_kube_node_state = 'ok';
      await this.persist();
      return;
    }
    const failed = await this.statusPass();
    if (failed === -1) {
      await this.markUp();
      return;
    }
    await this.attempt(failed);
  }

  /** `phases status`: every status check now; answers whether all passed. */
  async checkNow(): Promise<boolean> {
    const failed = await this.statusPass();
    if (failed === -1 && this.config?.kubeServiceState !== 'false') await this.markUp();
    return failed === -1;
  }

  /** `phases start`: from index `from` (0-based) to the end, or that phase alone. */
  async startPhases(from: number, single: boolean): Promise<OperationOutcome> {
    this.release('explicit');
    const failedAt = await this.startChain(from, { keepCerts: false, single });
    if (failedAt >= 0) {
      this.refreshNodeState();
      await this.persist();
      return { ok: false, message: `phase ${this.active[failedAt].file} failed to start` };
    }
    if (!single && from === 0 && (await this.statusPass()) === -1) await this.markUp();
    return { ok: true, message: single ? `started ${this.active[from]?.file}` : 'started' };
  }

  /** `phases stop`: from the last down to index `till` (0-based), or that phase alone; holds the node. */
  async stopPhases(till: number, force: boolean, single: boolean): Promise<OperationOutcome> {
    this.hold = 'manual';
    this.status.nodelet_hold = true;
    const failedAt = await this.stopChain(till, { force, keepCerts: false, onlyStarted: false, single });
    this.status.pf9_kube_service_state = 'false';
    this.refreshNodeState();
    await this.persist();
    if (failedAt >= 0) return { ok: false, message: `phase ${this.active[failedAt].file} failed to stop${force ? '' : ' (the phases before it were not stopped; --force goes on past failures)'}` };
    return { ok: true, message: 'stopped' };
  }

  /** `phases restart`: stop down to `from`, start from it; the certificates phase only with regenCerts. */
  async restartPhases(from: number, regenCerts: boolean): Promise<OperationOutcome> {
    this.release('explicit');
    await this.stopChain(from, { force: true, keepCerts: !regenCerts, onlyStarted: false });
    const failedAt = await this.startChain(from, { keepCerts: !regenCerts, single: false });
    if (failedAt >= 0) {
      this.refreshNodeState();
      await this.persist();
      return { ok: false, message: `phase ${this.active[failedAt].file} failed to start` };
    }
    if ((await this.statusPass()) === -1) await this.markUp();
    return { ok: true, message: 'restarted' };
  }

  /** `reset`: every phase stopped in reverse (past failures), the state forgotten; holds until the configuration changes. */
  async reset(): Promise<OperationOutcome> {
    this.hold = 'reset';
    const failedAt = await this.stopChain(0, { force: true, keepCerts: false, onlyStarted: false });
    const failed = failedAt >= 0 || this.status.phases.some((p) => p.state === 'failed');
    this.status = { ...emptyStatus(), nodelet_hold: true };
    this.active = [];
    this.attemptInProgress = false;
    if (this.config) this.switchToDesired();
    return { ok: !failed, message: failed ? 'some phases failed to stop' : 'every phase stopped; state removed' };
  }

  // --- the chains -------------------------------------------------------------------

  /** Runs every status check in order; answers the index of the first that failed, or -1. */
  private async statusPass(): Promise<number> {
    const config = this.requireConfig();
    this.status.status_check_timestamp = this.unixNow();
    for (let i = 0; i < this.active.length; i++) {
      const phase = this.active[i];
      const record = this.status.phases[i];
      this.status.current_status_check = phase.name;
      // A phase that is not running is expected to fail its check: no point asking again.
      const tries = record.state === 'not-started' || record.state === 'stopped' ? 1 : config.phaseRetry;
      const result = await this.runRetried(phase, 'status', tries, config.statusTimeoutS);
      if (!result.ok) {
        if (record.state !== 'not-started' && record.state !== 'stopped') record.state = 'failed';
        record.message = result.lines.join('\n');
        this.status.current_status_check = '';
        this.status.last_failed_status_check = phase.name;
        this.status.last_failed_status_time = this.unixNow();
        this.deps.logger.warn('status check failed', { phase: phase.file, exitCode: result.exitCode, timedOut: result.timedOut });
        await this.persist();
        return i;
      }
      record.state = 'running';
      record.message = '';
    }
    this.status.current_status_check = '';
    return -1;
  }

  private async attempt(failed: number): Promise<void> {
    const config = this.requireConfig();
    const number = this.status.pf9_kube_start_attempt + 1;
    if (number === 1) for (const record of this.status.phases) record.attempts = 0;
    this.status.pf9_kube_start_attempt = number;
    this.attemptInProgress = true;
    this.refreshNodeState();
    const full = number % config.fullRetryCount === 0;
    const from = full ? 0 : failed;
    const certs = this.active.findIndex((p) => isCertificatesPhase(p));
    const keepCerts = certs !== failed;
    this.deps.logger.info(full ? 'attempt: stopping everything and starting from the first phase' : 'attempt: restarting from the failed phase', {
      attempt: number,
      failedPhase: this.active[failed]?.file,
      from: this.active[from]?.file,
    });
    await this.persist();
    await this.stopChain(from, { force: true, keepCerts, onlyStarted: true });
    const startFailed = await this.startChain(from, { keepCerts, single: false });
    if (startFailed === -1 && (await this.statusPass()) === -1) {
      await this.markUp();
      return;
    }
    this.attemptInProgress = false;
    this.refreshNodeState();
    this.deps.logger.warn('attempt failed', { attempt: number, nodeState: this.status.pf9_kube_node_state, lastFailedTask: this.status.last_failed_task });
    await this.persist();
  }

  /** Starts phases from `from` on (or that one alone); answers the index that failed, or -1. */
  private async startChain(from: number, options: { keepCerts: boolean; single: boolean }): Promise<number> {
    const config = this.requireConfig();
    const last = options.single ? Math.min(from, this.active.length - 1) : this.active.length - 1;
    this.status.completed_tasks = this.active.slice(0, from).filter((_, i) => this.status.phases[i].state === 'running').map((p) => p.name);
    for (let i = from; i <= last; i++) {
      const phase = this.active[i];
      const record = this.status.phases[i];
      if (options.keepCerts && isCertificatesPhase(phase) && record.state === 'running') {
        this.status.completed_tasks.push(phase.name);
        continue;
      }
      record.state = 'executing';
      record.attempts += 1;
      this.status.current_task = phase.name;
      await this.persist();
      const result = await this.run(phase, 'start', config.phaseTimeoutS);
      if (!result.ok) {
        record.state = 'failed';
        record.message = result.lines.join('\n');
        this.status.current_task = '';
        this.status.last_failed_task = phase.name;
        this.status.pf9_kube_service_state = 'false';
        this.deps.logger.warn('phase failed to start', { phase: phase.file, exitCode: result.exitCode, timedOut: result.timedOut });
        await this.persist();
        return i;
      }
      record.state = 'running';
      record.message = '';
      this.status.completed_tasks.push(phase.name);
    }
    this.status.current_task = '';
    await this.persist();
    return -1;
  }

  /**
   * Stops phases from the last down to `till` (or that one alone), in reverse; answers the
   * index whose stop failed (the first, unless `force` goes on), or -1.
   */
  private async stopChain(till: number, options: { force: boolean; keepCerts: boolean; onlyStarted: boolean; single?: boolean }): Promise<number> {
    const config = this.requireConfig();
    const first = options.single ? Math.min(till, this.active.length - 1) : this.active.length - 1;
    let failedAt = -1;
    for (let i = first; i >= till; i--) {
      const phase = this.active[i];
      const record = this.status.phases[i];
      if (options.keepCerts && isCertificatesPhase(phase) && record.state === 'running') continue;
      if (options.onlyStarted && (record.state === 'not-started' || record.state === 'stopped')) continue;
      record.state = 'executing';
      this.status.current_task = `${phase.name} (stop)`;
      await this.persist();
      const result = await this.runRetried(phase, 'stop', config.phaseRetry, config.phaseTimeoutS);
      if (result.ok) {
        record.state = 'stopped';
        record.message = '';
      } else {
        record.state = 'failed';
        record.message = result.lines.join('\n');
        this.deps.logger.warn('phase failed to stop', { phase: phase.file, exitCode: result.exitCode, timedOut: result.timedOut });
        if (failedAt === -1) failedAt = i;
        if (!options.force) break;
      }
    }
    this.status.current_task = '';
    this.status.pf9_kube_service_state = 'false';
    this.status.completed_tasks = this.active.filter((_, i) => this.status.phases[i].state === 'running').map((p) => p.name);
    await this.persist();
    return failedAt;
  }

  // --- helpers ----------------------------------------------------------------------

  private async markUp(): Promise<void> {
    const wasUp = this.status.pf9_kube_node_state === 'ok' && this.status.pf9_kube_service_state === 'true';
    this.attemptInProgress = false;
    this.status.pf9_kube_service_state = 'true';
    this.status.pf9_kube_node_state = 'ok';
    this.status.pf9_kube_start_attempt = 0;
    this.status.completed_tasks = this.active.map((p) => p.name);
    if (!wasUp) this.deps.logger.info('node is up: every status check passed', { role: this.status.pf9_cluster_role, clusterId: this.status.pf9_cluster_id });
    await this.persist();
  }

  private refreshNodeState(): void {
    const fullRetryCount = this.config?.fullRetryCount ?? 10;
    const attempt = this.status.pf9_kube_start_attempt;
    const failures = this.attemptInProgress ? attempt - 1 : attempt;
    const state: NodeState = failures <= 0 ? 'converging' : failures >= fullRetryCount ? 'failed' : 'retrying';
    this.status.pf9_kube_node_state = state;
  }

  /** Status and stop are tried up to PHASE_RETRY times with a short backoff; start once. */
  private async runRetried(phase: Phase, op: PhaseOp, tries: number, timeoutS: number): Promise<PhaseRunResult> {
    let result = await this.run(phase, op, timeoutS);
    for (let n = 1; !result.ok && n < tries; n++) {
      await this.sleep(Math.min(250 * 2 ** (n - 1), 2000));
      result = await this.run(phase, op, timeoutS);
    }
    return result;
  }

  private async run(phase: Phase, op: PhaseOp, timeoutS: number): Promise<PhaseRunResult> {
    const result = await this.deps.runner.run({
      phase,
      op,
      timeoutMs: Math.round(timeoutS * 1000),
      cgroup: op === 'status' ? this.deps.cgroup() : null,
      env: this.deps.phaseEnv(phase),
    });
    this.deps.onRun?.(phase, op, result);
    return result;
  }

  private switchToDesired(): void {
    const config = this.requireConfig();
    const keep = new Map(this.status.phases.map((p, i) => [this.active[i]?.file, p]));
    const same = this.identity(this.active) === this.identity(this.desired);
    this.active = this.desired;
    this.status.phases = this.desired.map((p): PhaseStatus => {
      const previous = same ? keep.get(p.file) : undefined;
      return previous ? { ...previous, order: p.order, name: p.name } : { order: p.order, name: p.name, state: 'not-started' as PhaseState, message: '', attempts: 0 };
    });
    if (!same || this.status.pf9_cluster_role !== config.role || this.status.pf9_cluster_id !== config.clusterId) {
      this.status.pf9_kube_start_attempt = 0;
      this.status.pf9_kube_node_state = 'converging';
      this.status.pf9_kube_service_state = 'false';
      this.status.completed_tasks = [];
      this.attemptInProgress = false;
    }
    this.status.pf9_cluster_role = config.role;
    this.status.pf9_cluster_id = config.clusterId;
    this.status.all_tasks = this.desired.map((p) => p.name);
    this.status.all_status_checks = this.desired.map((p) => p.name);
    this.status.nodelet_phases_dir = config.phasesDir;
    this.status.nodelet_phase_files = this.desired.map((p) => p.file);
  }

  private anyStarted(): boolean {
    return this.status.phases.some((p) => p.state !== 'not-started' && p.state !== 'stopped');
  }

  private identity(phases: readonly Phase[]): string {
    return phases.map((p) => p.path).join('\n');
  }

  private requireConfig(): EngineConfig {
    if (!this.config) throw new Error('nodelet engine used before it was configured');
    return this.config;
  }

  private unixNow(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  private async persist(): Promise<void> {
    this.status.nodelet_hold = this.hold !== 'none';
    this.status.nodelet_updated_at = this.now().toISOString();
    await this.deps.persist(copy(this.status));
  }
}

/** A deep copy of the status (plain JSON; structuredClone would load its serializer into every node's memory). */
function copy(status: KubeStatus): KubeStatus {
  return JSON.parse(JSON.stringify(status)) as KubeStatus;
}
