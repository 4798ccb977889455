import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { DesiredRole, HeartbeatRole, HookName, HostDesiredStateControl, RoleManifest, RoleState } from '#contracts';
import { extractPackage } from '#role-package';
import type { Logger } from '#logging';
import type { HookResult, HookRunOptions } from './hook-runner';
import { PackageDownloadError, type PackageSource } from './package-fetcher';
import type { AgentState, FailedApply, InstalledRole, RoleStateStore } from './role-state.store';
import type { AgentMetrics } from './hostagent.metrics';
import { removeUnusedRoleDirs, ROLES_DIR } from './crash-leftovers';

/** A role.status report, without the hostId the reporter adds. */
export interface RoleStatusReport {
  role: string;
  version: string;
  generation: number;
  state: RoleState;
  message?: string;
  log?: string;
  /** Failed attempts in a row to apply the role's desired state. */
  failures?: number;
}

export interface StatusSink {
  report(status: RoleStatusReport): Promise<void>;
}

export interface HookExecutor {
  run(options: HookRunOptions): Promise<HookResult>;
}

export interface RoleEngineOptions {
  hostId: string;
  root: string;
  hookTimeoutMs: number;
  /** A failed apply is tried again after this long, then twice as long after each failure in a row … */
  retryInitialMs?: number;
  /** … up to this (the converge interval). */
  retryMaxMs?: number;
  clock?: () => number;
}

const DEFAULT_RETRY_INITIAL_MS = 5000;
const DEFAULT_RETRY_MAX_MS = 60_000;

class HookFailure extends Error {
  constructor(
    readonly hook: HookName,
    readonly result: HookResult,
  ) {
    super(
      result.timedOut
        ? `hook ${hook} timed out`
        : result.spawnError !== null
          ? `hook ${hook} could not start: ${result.spawnError}`
          : `hook ${hook} failed (exit ${result.exitCode ?? result.signal})`,
    );
  }
}

/**
 * Makes the host's roles match the desired state: install, upgrade (beside the old
 * version, which is put back if the new one fails), reconfigure, remove; and, at every
 * check, restart what stopped and configure again what drifted. One thing at a time.
 */
export class RoleEngine {
  private state: AgentState | null = null;
  private queue: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private readonly manifests = new Map<string, RoleManifest>();
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly clock: () => number;

  constructor(
    private readonly options: RoleEngineOptions,
    private readonly store: RoleStateStore,
    private readonly packages: PackageSource,
    private readonly hooks: HookExecutor,
    private readonly status: StatusSink,
    private readonly logger: Logger,
    private readonly metrics?: AgentMetrics,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  /** Loads the agent's record, and removes role folders that a crash left behind and no installed role uses. */
  async init(): Promise<void> {
    this.state = await this.store.load();
    const installed = new Map(Object.values(this.state.installed).map((role) => [role.name, role.version]));
    await removeUnusedRoleDirs(this.options.root, installed, this.logger);
  }

  get generation(): number {
    return this.current().desiredGeneration;
  }

  /**
   * Takes a desired state unless it is older than the one held; answers whether it was taken.
   * `authoritative`: the plane's answer to this host's own request, taken whatever its generation.
   */
  async offer(desired: HostDesiredStateControl, authoritative = false): Promise<boolean> {
    const state = this.current();
    if (desired.hostId !== this.options.hostId) return false;
    if (desired.generation < state.desiredGeneration && !authoritative) {
      this.logger.debug('older desired state ignored', { generation: desired.generation, held: state.desiredGeneration });
      return false;
    }
    state.hostState = desired.state;
    state.desiredGeneration = desired.generation;
    state.desired = desired.state === 'authorized' ? desired.roles : [];
    await this.store.save(state);
    void this.reconcile();
    return true;
  }

  /**
   * Whether `desired` is the state held but for its roles' retry tokens: what an operator's
   * `hostplane role retry` sends (the generation does not move). Such a state asks for attempts
   * and nothing else, so it is taken at the generation held.
   */
  onlyRetryTokensDiffer(desired: HostDesiredStateControl): boolean {
    const state = this.current();
    if (desired.hostId !== this.options.hostId || desired.generation !== state.desiredGeneration || desired.state !== state.hostState) return false;
    const withoutRetry = (roles: readonly DesiredRole[]): unknown[] => roles.map(({ retry: _retry, ...rest }) => rest);
    const held = state.hostState === 'authorized' ? state.desired : [];
    return !isDeepStrictEqual(desired.roles, held) && isDeepStrictEqual(withoutRetry(desired.roles), withoutRetry(held));
  }

  /** Applies the held desired state; calls made while one waits to run join it. */
  reconcile(): Promise<void> {
    if (this.reconcileQueued) return this.queue;
    this.reconcileQueued = true;
    return this.enqueue(async () => {
      this.reconcileQueued = false;
      await this.reconcileNow();
    });
  }

  /** No more attempts on the retry timer (the agent stops). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** The periodic check: failed downloads tried again, stopped services started, drift corrected. */
  converge(): Promise<void> {
    return this.enqueue(async () => {
      await this.reconcileNow(true);
      for (const desired of this.current().desired) {
        const installed = this.current().installed[desired.name];
        if (installed && installed.state === 'applied' && installed.version === desired.version) await this.check(desired, installed);
      }
    });
  }

  /** What the heartbeat says about roles. */
  summary(): HeartbeatRole[] {
    const state = this.current();
    const roles: HeartbeatRole[] = Object.values(state.installed).map((r) => ({ name: r.name, version: r.version, state: r.state, generation: r.generation }));
    for (const [name, failure] of Object.entries(state.failed)) {
      if (!state.installed[name]) roles.push({ name, version: failure.version, state: 'failed', generation: failure.generation });
    }
    return roles.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(task).catch((err: unknown) => this.logger.error('role engine task failed', { err: String(err) }));
    return this.queue;
  }

  private current(): AgentState {
    if (!this.state) throw new Error('role engine used before init()');
    return this.state;
  }

  private async reconcileNow(checking = false): Promise<void> {
    const state = this.current();
    const wanted = new Map(state.desired.map((d) => [d.name, d]));
    for (const installed of Object.values(state.installed)) {
      if (!wanted.has(installed.name)) await this.remove(installed);
    }
    for (const name of Object.keys(state.failed)) {
      if (!wanted.has(name) && !state.installed[name]) delete state.failed[name];
    }
    for (const desired of state.desired) {
      const failure = state.failed[desired.name];
      if (failure && failure.generation === desired.generation && !this.dueAgain(failure, desired, checking)) continue;
      await this.apply(desired, state.installed[desired.name]);
    }
    await this.store.save(state);
    this.scheduleRetry();
  }

  /**
   * A failed apply is tried again once its backoff has passed, when the plane's retry token
   * changed (an operator asked), and, for a download, at every check as well.
   */
  private dueAgain(failure: FailedApply, desired: DesiredRole, checking: boolean): boolean {
    if ((desired.retry ?? 0) !== (failure.retry ?? 0)) return true;
    if (checking && failure.retryable) return true;
    return this.clock() >= (failure.nextAttemptMs ?? 0);
  }

  /** Wakes the engine when the earliest failed apply is due again. */
  private scheduleRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped) return;
    const state = this.current();
    const due = state.desired
      .map((desired) => state.failed[desired.name]?.generation === desired.generation ? (state.failed[desired.name]?.nextAttemptMs ?? 0) : Infinity)
      .reduce((a, b) => Math.min(a, b), Infinity);
    if (due === Infinity) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.reconcile();
    }, Math.max(0, due - this.clock()));
    this.retryTimer.unref();
  }

  private async apply(desired: DesiredRole, installed: InstalledRole | undefined): Promise<void> {
    const state = this.current();
    if (installed && installed.version === desired.version && installed.sha256 === desired.sha256) {
      if (installed.state === 'applied' && isDeepStrictEqual(installed.config, desired.config)) {
        if (installed.generation !== desired.generation) {
          installed.generation = desired.generation;
          await this.report(desired, 'applied', 'already in the desired state');
        }
        return;
      }
      await this.reconfigure(desired, installed);
      return;
    }
    const started = Date.now();
    const dir = this.roleDir(desired.name, desired.version);
    try {
      await this.report(desired, 'downloading');
      const bytes = await this.packages.fetch(desired.name, desired.version, desired.sha256);
      await rm(dir, { recursive: true, force: true });
      const inspected = await extractPackage(bytes, dir, { expectedSha256: desired.sha256 });
      this.manifests.set(dir, inspected.manifest);
      await this.report(desired, 'installing');
      await this.runHook(desired.name, desired.version, 'install');
      if (installed) await this.runHook(installed.name, installed.version, 'stop', undefined, true);
      await this.report(desired, 'configuring');
      await this.runHook(desired.name, desired.version, 'configure', desired.config);
      await this.runHook(desired.name, desired.version, 'start');
    } catch (err) {
      await this.applyFailed(desired, installed, dir, err, started);
      return;
    }
    if (installed && installed.version !== desired.version) await rm(this.roleDir(installed.name, installed.version), { recursive: true, force: true });
    state.installed[desired.name] = { name: desired.name, version: desired.version, sha256: desired.sha256, config: desired.config, generation: desired.generation, state: 'applied' };
    delete state.failed[desired.name];
    await this.store.save(state);
    this.metrics?.applies.inc({ outcome: 'applied' });
    this.metrics?.applyDuration.observe({ outcome: 'applied' }, (Date.now() - started) / 1000);
    await this.report(desired, 'applied', installed ? `upgraded from ${installed.version}` : 'installed');
  }

  private async applyFailed(desired: DesiredRole, installed: InstalledRole | undefined, dir: string, err: unknown, started: number): Promise<void> {
    const state = this.current();
    const retryable = err instanceof PackageDownloadError;
    let message = err instanceof Error ? err.message : String(err);
    const log = err instanceof HookFailure ? err.result.tail : undefined;
    this.logger.warn('role apply failed', { role: desired.name, version: desired.version, generation: desired.generation, err: message });
    if (!retryable) {
      const sameDir = installed !== undefined && installed.version === desired.version;
      if (!sameDir) {
        await this.runHook(desired.name, desired.version, 'stop', undefined, true);
        await rm(dir, { recursive: true, force: true });
      }
      if (installed && sameDir && !isDeepStrictEqual(installed.config, desired.config)) {
        // A configuration that does not take: the one that ran before is put back.
        try {
          await this.runHook(installed.name, installed.version, 'configure', installed.config);
          await this.runHook(installed.name, installed.version, 'start');
          message += '; the previous configuration was restored';
        } catch (restoreErr) {
          installed.state = 'failed';
          message += `; restoring the previous configuration failed too: ${(restoreErr as Error).message}`;
        }
      }
      if (installed && !sameDir) {
        // Put the old version back the way it ran.
        try {
          await this.runHook(installed.name, installed.version, 'configure', installed.config);
          await this.runHook(installed.name, installed.version, 'start');
          message += `; rolled back to ${installed.version}`;
        } catch (rollbackErr) {
          installed.state = 'failed';
          message += `; rollback to ${installed.version} failed too: ${(rollbackErr as Error).message}`;
        }
      }
    }
    const previous = state.failed[desired.name];
    const failures = (previous?.generation === desired.generation ? (previous.failures ?? 1) : 0) + 1;
    const retryInMs = Math.min(this.options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS, (this.options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS) * 2 ** (failures - 1));
    state.failed[desired.name] = {
      version: desired.version,
      generation: desired.generation,
      retryable,
      message,
      failures,
      nextAttemptMs: this.clock() + retryInMs,
      retry: desired.retry ?? 0,
    };
    this.logger.info('the role is tried again later', { role: desired.name, generation: desired.generation, failures, retryInMs });
    await this.store.save(state);
    this.metrics?.applies.inc({ outcome: 'failed' });
    this.metrics?.applyDuration.observe({ outcome: 'failed' }, (Date.now() - started) / 1000);
    await this.report(desired, 'failed', message, log);
  }

  private async reconfigure(desired: DesiredRole, installed: InstalledRole): Promise<void> {
    const started = Date.now();
    try {
      await this.report(desired, 'configuring');
      await this.runHook(desired.name, desired.version, 'configure', desired.config);
      await this.runHook(desired.name, desired.version, 'start');
    } catch (err) {
      await this.applyFailed(desired, installed, this.roleDir(desired.name, desired.version), err, started);
      return;
    }
    Object.assign(installed, { config: desired.config, generation: desired.generation, state: 'applied' as const, message: undefined });
    delete this.current().failed[desired.name];
    await this.store.save(this.current());
    this.metrics?.applies.inc({ outcome: 'applied' });
    await this.report(desired, 'applied', 'configured');
  }

  private async remove(installed: InstalledRole): Promise<void> {
    const state = this.current();
    const generation = state.desiredGeneration;
    const report = (s: RoleState, message?: string, log?: string) =>
      this.status.report({ role: installed.name, version: installed.version, generation, state: s, message, log });
    await report('removing');
    try {
      await this.runHook(installed.name, installed.version, 'stop');
      await this.runHook(installed.name, installed.version, 'remove');
    } catch (err) {
      installed.state = 'failed';
      await this.store.save(state);
      await report('failed', `removal failed: ${(err as Error).message}`, err instanceof HookFailure ? err.result.tail : undefined);
      return;
    }
    await rm(join(this.options.root, ROLES_DIR, installed.name), { recursive: true, force: true });
    delete state.installed[installed.name];
    delete state.failed[installed.name];
    await this.store.save(state);
    this.metrics?.applies.inc({ outcome: 'removed' });
    await report('removed');
  }

  /** Status and drift: start what stopped; configure again what no longer matches. */
  private async check(desired: DesiredRole, installed: InstalledRole): Promise<void> {
    const manifest = await this.manifest(desired.name, desired.version);
    if (!manifest) return;
    if (manifest.hooks.status) {
      const healthy = await this.execute(desired.name, desired.version, 'status');
      if (healthy && !healthy.succeeded) {
        this.logger.warn('role not healthy; starting it again', { role: desired.name });
        this.metrics?.corrections.inc({ kind: 'restart' });
        try {
          await this.runHook(desired.name, desired.version, 'start');
          const again = await this.execute(desired.name, desired.version, 'status');
          if (again && !again.succeeded) throw new HookFailure('status', again);
          await this.report(desired, 'applied', 'was not running: started again');
        } catch (err) {
          await this.report(desired, 'failed', `not healthy, and starting it again did not help: ${(err as Error).message}`, err instanceof HookFailure ? err.result.tail : undefined);
          return;
        }
      }
    }
    if (manifest.hooks.getConfig) {
      const result = await this.execute(desired.name, desired.version, 'getConfig', undefined, 1024 * 1024);
      if (!result || !result.succeeded) return;
      let actual: unknown;
      try {
        actual = JSON.parse(result.stdout ?? '');
      } catch {
        actual = undefined;
      }
      if (!isDeepStrictEqual(actual, desired.config)) {
        this.logger.warn('configuration drifted; configuring again', { role: desired.name });
        this.metrics?.corrections.inc({ kind: 'drift' });
        try {
          await this.report(desired, 'configuring', 'configuration drifted from the desired one');
          await this.runHook(desired.name, desired.version, 'configure', desired.config);
          await this.runHook(desired.name, desired.version, 'start');
          await this.report(desired, 'applied', 'configuration drift corrected');
        } catch (err) {
          installed.state = 'failed';
          await this.report(desired, 'failed', `drift correction failed: ${(err as Error).message}`, err instanceof HookFailure ? err.result.tail : undefined);
        }
      }
    }
  }

  /** A report about a desired role carries how many attempts at its generation failed in a row so far. */
  private async report(desired: DesiredRole, state: RoleState, message?: string, log?: string): Promise<void> {
    const failure = this.current().failed[desired.name];
    const failures = failure?.generation === desired.generation ? (failure.failures ?? 1) : 0;
    await this.status.report({ role: desired.name, version: desired.version, generation: desired.generation, state, message, log, failures });
  }

  /** Runs a hook if the role has it; a failure throws HookFailure unless `tolerate`. */
  private async runHook(name: string, version: string, hook: HookName, config?: Record<string, unknown>, tolerate = false): Promise<void> {
    const result = await this.execute(name, version, hook, config);
    if (result && !result.succeeded && !tolerate) throw new HookFailure(hook, result);
  }

  private async execute(name: string, version: string, hook: HookName, config?: Record<string, unknown>, captureStdoutBytes?: number): Promise<HookResult | null> {
    const manifest = await this.manifest(name, version);
    const relative = manifest?.hooks[hook];
    if (!manifest || relative === undefined) return null;
    const dir = this.roleDir(name, version);
    const result = await this.hooks.run({
      hook,
      executable: join(dir, relative),
      cwd: dir,
      env: {
        PF9_ROLE: name,
        PF9_ROLE_VERSION: version,
        PF9_ROLE_DIR: dir,
        PF9_HOST_ID: this.options.hostId,
        PF9_ROOT: this.options.root,
      },
      stdin: hook === 'configure' ? JSON.stringify(config ?? {}) : undefined,
      timeoutMs: this.options.hookTimeoutMs,
      logFile: join(this.options.root, 'var/log/pf9', `role-${name}.log`),
      captureStdoutBytes,
    });
    this.metrics?.hookRuns.inc({ hook, outcome: result.succeeded ? 'ok' : result.timedOut ? 'timeout' : 'failed' });
    return result;
  }

  private async manifest(name: string, version: string): Promise<RoleManifest | null> {
    const dir = this.roleDir(name, version);
    const cached = this.manifests.get(dir);
    if (cached) return cached;
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'role.json'), 'utf8')) as RoleManifest;
      this.manifests.set(dir, manifest);
      return manifest;
    } catch {
      return null;
    }
  }

  private roleDir(name: string, version: string): string {
    return join(this.options.root, ROLES_DIR, name, version);
  }
}
