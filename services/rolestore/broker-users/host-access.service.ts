import type { Logger } from '#logging';

/** What the role store needs of a broker that has a user per host. */
export interface HostBrokerUsers {
  ensureHostUser(hostId: string): Promise<{ username: string; password: string }>;
  grant(hostId: string): Promise<void>;
  revoke(hostId: string): Promise<void>;
}

/**
 * When a host may use the broker. A registered host gets its own queue and routing
 * keys at once, so that it heartbeats and shows up, unauthorized, for an operator to
 * authorize (the plane, not the broker, keeps roles from unauthorized hosts). A
 * deauthorized host keeps them until it has reported its roles removed, or a grace
 * period has passed, and is then cut off: permissions gone, connections closed.
 */
export class HostAccessService {
  private readonly pendingRevokes = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly users: HostBrokerUsers | null,
    private readonly graceMs: number,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.users !== null;
  }

  /** At registration: the host's user and password, able to use its own queue and keys. */
  async registered(hostId: string): Promise<{ username: string; password: string } | null> {
    if (!this.users) return null;
    const credentials = await this.users.ensureHostUser(hostId);
    await this.users.grant(hostId);
    return credentials;
  }

  async authorized(hostId: string): Promise<void> {
    this.cancel(hostId);
    await this.safely('grant', hostId, (users) => users.grant(hostId));
  }

  /** Deauthorized: cut off once its roles are gone (rolesLeft 0), or after the grace period. */
  deauthorized(hostId: string, rolesLeft: number): void {
    if (!this.users) return;
    if (rolesLeft === 0) {
      void this.revoke(hostId);
      return;
    }
    this.cancel(hostId);
    const timer = setTimeout(() => void this.revoke(hostId), this.graceMs);
    timer.unref();
    this.pendingRevokes.set(hostId, timer);
  }

  /** The last role of a deauthorized host was reported removed. */
  rolesGone(hostId: string): void {
    if (this.pendingRevokes.has(hostId)) void this.revoke(hostId);
  }

  stop(): void {
    for (const timer of this.pendingRevokes.values()) clearTimeout(timer);
    this.pendingRevokes.clear();
  }

  private async revoke(hostId: string): Promise<void> {
    this.cancel(hostId);
    await this.safely('revoke', hostId, (users) => users.revoke(hostId));
  }

  private cancel(hostId: string): void {
    const timer = this.pendingRevokes.get(hostId);
    if (timer) clearTimeout(timer);
    this.pendingRevokes.delete(hostId);
  }

  private async safely(what: string, hostId: string, call: (users: HostBrokerUsers) => Promise<void>): Promise<void> {
    if (!this.users) return;
    try {
      await call(this.users);
    } catch (err) {
      // The database change stands; the broker follows at the next change or restart.
      this.logger.error(`could not ${what} the host's broker user`, { hostId, err: String(err) });
    }
  }
}
