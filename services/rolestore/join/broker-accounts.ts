import type { HostBrokerAccount } from '#contracts';

/**
 * Where a joining host gets its broker credentials. `null` means the host has no user of
 * its own and keeps using the plane's shared broker credentials.
 */
export interface BrokerAccounts {
  ensureHostUser(hostId: string): Promise<HostBrokerAccount | null>;
  /** Why no host may join now (it would get no broker user of its own, and the plane admits none on a shared one), or null. */
  joinRefusal(): string | null;
  /** The plane's broker user, which hosts learn at join and renewal: the only sender of control messages. */
  readonly planeBrokerUser: string;
}

/** Nest token of the BrokerAccounts the join uses (swapped in join.providers.ts alone). */
export const BROKER_ACCOUNTS = Symbol('BROKER_ACCOUNTS');
