import type { HostBrokerAccount } from '#contracts';

/**
 * Where a joining host gets its broker credentials. `null` means the host has no user of
 * its own and keeps using the plane's shared broker credentials.
 */
export interface BrokerAccounts {
  ensureHostUser(hostId: string): Promise<HostBrokerAccount | null>;
}

/** Nest token of the BrokerAccounts the join uses (swapped in join.providers.ts alone). */
export const BROKER_ACCOUNTS = Symbol('BROKER_ACCOUNTS');
