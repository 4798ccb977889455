import { Inject, Injectable, Optional } from '@nestjs/common';
import { Logger } from '#logging';
import { RolestoreConfig } from '../config/rolestore.config';
import { Clock } from '../core/clock';
import { HostAccessRepository, type HostAccess, type HostAccessRecord } from './host-access.repository';
import { PerKeyQueue } from '../support/per-key-queue';

/** What the role store needs of a broker that has a user per host (none: PF9_HOST_BROKER_USERS is off). */
export abstract class HostBrokerUsers {
  abstract ensureHostUser(hostId: string): Promise<{ username: string; password: string }>;
  abstract grant(hostId: string): Promise<void>;
  abstract revoke(hostId: string): Promise<void>;
  abstract deleteHostUser(hostId: string): Promise<void>;
  abstract boundQueues(): Promise<void>;
}

/** The clock and timers the grace period runs on (a fake in unit tests). */
export abstract class GraceTimers {
  abstract now(): number;
  /** Runs `run` once after `ms`, without keeping the process alive; answers what cancels it. */
  abstract after(ms: number, run: () => void): () => void;
}

@Injectable()
export class SystemGraceTimers extends GraceTimers {
  constructor(private readonly clock: Clock) {
    super();
  }

  now(): number {
    return this.clock.now();
  }

  after(ms: number, run: () => void): () => void {
    const timer = setTimeout(run, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }
}

/** How long after a broker call failed the hosts it concerned are brought in line again. */
export const BROKER_RETRY_MS = 30_000;

/** What start-up reconciliation did with one host. */
type Reconciled = 'granted' | 'revoked' | 'revoking' | 'deleted' | 'failed';

/**
 * When a host may use the broker. A registered host gets its own queue and routing
 * keys at once, so that it heartbeats and shows up, unauthorized, for an operator to
 * authorize (the plane, not the broker, keeps roles from unauthorized hosts). A
 * deauthorized host keeps them until it has reported its roles removed, or a grace
 * period has passed, and is then cut off: permissions gone, connections closed.
 *
 * What each host should have is recorded (host_broker_access), so that reconcile() at
 * start brings the broker in line after a restart or a broker call that failed. Changes
 * of one host run one after the other, so the database and the broker see them in the
 * order they came.
 */
@Injectable()
export class HostAccessService {
  private readonly pendingRevokes = new Map<string, () => void>();
  /** Hosts whose last grant or revoke the broker did not take, and the timer that tries them again. */
  private readonly retrying = new Set<string>();
  private retryTimer: (() => void) | undefined;
  private readonly perHost = new PerKeyQueue();
  private stopped = false;
  /** How long a deauthorized host keeps its access to report its roles removed. */
  private readonly graceMs: number;

  constructor(
    // Its class named: a union's type is not recorded for injection.
    @Optional() @Inject(HostBrokerUsers) private readonly users: HostBrokerUsers | null,
    private readonly repository: HostAccessRepository,
    config: RolestoreConfig,
    private readonly logger: Logger,
    private readonly timers: GraceTimers,
  ) {
    this.graceMs = config.deauthorizedGraceS * 1000;
  }

  get enabled(): boolean {
    return this.users !== null;
  }

  /** At registration: the host's user and password, able to use its own queue and keys. */
  async registered(hostId: string): Promise<{ username: string; password: string } | null> {
    const users = this.users;
    if (!users) return null;
    return this.perHost.run(hostId, async () => {
      const credentials = await users.ensureHostUser(hostId);
      await users.grant(hostId);
      // Granted now, like any registered host: a revocation still pending would contradict the record.
      this.cancel(hostId);
      await this.repository.record(hostId, { access: 'granted' }, this.timers.now());
      return credentials;
    });
  }

  async authorized(hostId: string): Promise<void> {
    if (!this.users) return;
    await this.perHost.run(hostId, async () => {
      this.cancel(hostId);
      await this.record(hostId, { access: 'granted' });
      await this.grant(hostId);
    });
  }

  /**
   * Deauthorized: cut off once its roles are gone (rolesLeft 0), or after the grace period.
   * Resolves once that is recorded; the broker may be told later.
   */
  deauthorized(hostId: string, rolesLeft: number): Promise<void> {
    if (!this.users) return Promise.resolve();
    if (rolesLeft === 0) {
      const recorded = this.perHost.run(hostId, () => this.record(hostId, { access: 'revoked' }));
      void this.perHost.run(hostId, () => this.revoke(hostId));
      return recorded;
    }
    return this.perHost.run(hostId, async () => {
      await this.record(hostId, { access: 'revoking', revokeAfterMs: this.timers.now() + this.graceMs });
      this.revokeAfter(hostId, this.graceMs);
    });
  }

  /**
   * Decommissioned (recorded by the caller, HostAccessRepository.decommission): its broker
   * user deleted, its connections closed with it. Answers `pending` when the broker did not
   * take it: tried again in BROKER_RETRY_MS and at every start until it does.
   */
  async decommissioned(hostId: string): Promise<'deleted' | 'pending' | 'none'> {
    if (!this.users) return 'none';
    return this.perHost.run(hostId, async () => {
      this.cancel(hostId);
      return (await this.deleteUser(hostId)) ? 'deleted' : 'pending';
    });
  }

  /** Whether the host has a broker user of its own. */
  hasOwnUser(hostId: string): Promise<boolean> {
    return this.repository.hasOwnUser(hostId);
  }

  /** The last role of a host was reported removed: cut off now if it is being revoked. */
  rolesGone(hostId: string): void {
    if (!this.users) return;
    void this.perHost.run(hostId, () => this.revokeIfRevoking(hostId, this.pendingRevokes.has(hostId)));
  }

  /**
   * At start: brings the broker in line with what is recorded. Granted and revoked hosts
   * are granted or revoked again (both idempotent); a host being revoked is cut off now if
   * its roles are gone or its grace period is over, otherwise when the rest of it is.
   * A host whose broker call fails is logged and left for the next start or change.
   */
  async reconcile(): Promise<void> {
    if (!this.users) return;
    await this.users.boundQueues().catch((err: unknown) => this.logger.error('could not bound the queues hosts can make grow (their own, pf9.dead)', { err: String(err) }));
    let hostIds: string[];
    try {
      hostIds = await this.repository.hostIds();
    } catch (err) {
      this.logger.error("could not read the hosts' broker access: the broker is not reconciled", { err: String(err) });
      return;
    }
    const counts: Record<Reconciled, number> = { granted: 0, revoked: 0, revoking: 0, deleted: 0, failed: 0 };
    for (const hostId of hostIds) {
      if (this.stopped) return;
      const outcome = await this.perHost.run(hostId, () => this.bringInLine(hostId));
      if (outcome) counts[outcome]++;
    }
    this.logger.info("hosts' broker access reconciled", { hosts: hostIds.length, ...counts });
  }

  /** Stops the timers and waits for broker calls under way; what is left to do is recorded for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.pendingRevokes.values()) cancel();
    this.pendingRevokes.clear();
    this.retryTimer?.();
    this.retryTimer = undefined;
    await this.perHost.idle();
  }

  private async bringInLine(hostId: string): Promise<Reconciled | null> {
    let record: HostAccessRecord | null;
    try {
      record = await this.repository.find(hostId);
    } catch (err) {
      this.logger.error("could not read the host's broker access", { hostId, err: String(err) });
      return 'failed';
    }
    if (!record) {
      // Recorded access wins: a host decommissioned and registered again since has it.
      const toDelete = await this.repository.userToDelete(hostId).catch(() => false);
      if (!toDelete) return null;
      return (await this.deleteUser(hostId)) ? 'deleted' : 'failed';
    }
    switch (record.access) {
      case 'granted':
        return (await this.grant(hostId)) ? 'granted' : 'failed';
      case 'revoked':
        return (await this.safely('revoke', hostId, (users) => users.revoke(hostId))) ? 'revoked' : 'failed';
      case 'revoking': {
        const leftMs = record.revokeAfterMs - this.timers.now();
        if (record.rolesLeft > 0 && leftMs > 0) {
          this.revokeAfter(hostId, leftMs);
          return 'revoking';
        }
        return (await this.revokeIfRevoking(hostId, true)) ? 'revoked' : 'failed';
      }
    }
  }

  private async deleteUser(hostId: string): Promise<boolean> {
    if (!(await this.safely('delete', hostId, (users) => users.deleteHostUser(hostId)))) return false;
    await this.repository.userDeleted(hostId).catch((err: unknown) => this.logger.error("could not record the host's broker user deleted", { hostId, err: String(err) }));
    return true;
  }

  private revokeAfter(hostId: string, ms: number): void {
    if (this.stopped) return;
    this.cancel(hostId);
    this.pendingRevokes.set(
      hostId,
      this.timers.after(ms, () => {
        this.pendingRevokes.delete(hostId);
        void this.perHost.run(hostId, () => this.revokeIfRevoking(hostId, true));
      }),
    );
  }

  /**
   * Cuts the host off if it is still recorded as being revoked (it may have been authorized
   * since, here or by another role store). Without the record (the database failing), what
   * the caller knows decides (`assumeRevoking`). Answers false when the broker could not be told.
   */
  private async revokeIfRevoking(hostId: string, assumeRevoking: boolean): Promise<boolean> {
    let revoking: boolean;
    try {
      revoking = await this.repository.revokeIfRevoking(hostId, this.timers.now());
    } catch (err) {
      revoking = assumeRevoking;
      this.logger.error("could not record the host's broker access revoked", { hostId, err: String(err) });
    }
    return revoking ? this.revoke(hostId) : true;
  }

  /**
   * Grants, then looks at the record again: another role store on the same database may have
   * recorded a revocation while the broker was granting, and what is recorded wins.
   */
  private async grant(hostId: string): Promise<boolean> {
    const granted = await this.safely('grant', hostId, (users) => users.grant(hostId));
    const now = await this.repository.find(hostId).catch(() => null);
    if (now !== null && now.access !== 'granted') return (await this.bringInLine(hostId)) !== 'failed';
    return granted;
  }

  private async revoke(hostId: string): Promise<boolean> {
    this.cancel(hostId);
    return this.safely('revoke', hostId, (users) => users.revoke(hostId));
  }

  private cancel(hostId: string): void {
    this.pendingRevokes.get(hostId)?.();
    this.pendingRevokes.delete(hostId);
  }

  private async record(hostId: string, access: HostAccess): Promise<void> {
    try {
      await this.repository.record(hostId, access, this.timers.now());
    } catch (err) {
      // The broker is still told; only a restart before the next change would miss it.
      this.logger.error("could not record the host's broker access", { hostId, access: access.access, err: String(err) });
    }
  }

  private async safely(what: 'grant' | 'revoke' | 'delete', hostId: string, call: (users: HostBrokerUsers) => Promise<void>): Promise<boolean> {
    if (!this.users) return true;
    try {
      await call(this.users);
      this.retrying.delete(hostId);
      return true;
    } catch (err) {
      // The record stands; the broker is brought in line with it again shortly.
      this.logger.error(`could not ${what} the host's broker user: trying again in ${BROKER_RETRY_MS / 1000} s`, { hostId, err: String(err) });
      this.retrying.add(hostId);
      this.scheduleRetry();
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = this.timers.after(BROKER_RETRY_MS, () => {
      this.retryTimer = undefined;
      const hostIds = [...this.retrying];
      this.retrying.clear();
      // Each is brought in line with what is recorded now; one that fails again comes back.
      for (const hostId of hostIds) void this.perHost.run(hostId, () => this.bringInLine(hostId));
    });
  }
}
