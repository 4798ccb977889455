import { Injectable } from '@nestjs/common';
import type { HostBrokerAccount } from '#contracts';
import { HostAccessService } from '../broker-users/host-access.service';
import { BrokerIdentityPolicy } from '../broker-users/broker-identity';
import { RolestoreConfig } from '../config/rolestore.config';

/**
 * Where a joining host gets its broker credentials. `null` means the host has no user of
 * its own and keeps using the plane's shared broker credentials.
 */
export abstract class BrokerAccounts {
  abstract ensureHostUser(hostId: string): Promise<HostBrokerAccount | null>;
  /** Why no host may join now (it would get no broker user of its own, and the plane admits none on a shared one), or null. */
  abstract joinRefusal(): string | null;
  /** The plane's broker user, which hosts learn at join and renewal: the only sender of control messages. */
  abstract readonly planeBrokerUser: string;
}

/** A broker user per host when PF9_HOST_BROKER_USERS is on; otherwise none (shared credentials, if the plane admits them). */
@Injectable()
export class HostBrokerAccounts extends BrokerAccounts {
  readonly planeBrokerUser: string;

  constructor(
    private readonly access: HostAccessService,
    private readonly identity: BrokerIdentityPolicy,
    config: RolestoreConfig,
  ) {
    super();
    this.planeBrokerUser = config.planeBrokerUser;
  }

  ensureHostUser(hostId: string): Promise<HostBrokerAccount | null> {
    return this.access.registered(hostId);
  }

  joinRefusal(): string | null {
    return this.identity.joinRefusal();
  }
}
