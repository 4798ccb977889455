import { Injectable } from '@nestjs/common';
import type { HostBrokerIdentity } from '#contracts';
import type { Logger } from '#logging';
import { RolestoreConfig } from '../config/rolestore.config';

/**
 * Which broker identity hosts have on this plane, decided once at start. Each host its own
 * broker user wherever the plane can make them (RabbitMQ's management API); a host without
 * one shares a user with others and so can act as any of them (the ingress lets its tunnel
 * log in as that user only when told to): the plane admits such hosts only when
 * PF9_INSECURE_SHARED_BROKER_USER says so, and says so.
 */
@Injectable()
export class BrokerIdentityPolicy {
  /** The plane gives each host its own broker user. */
  readonly ownUsers: boolean;
  /** Insecure: the user hosts without their own share. */
  readonly sharedUser: string | undefined;

  /** `config.hostBrokerUsers` resolved to on or off (startRolestore). */
  constructor(config: RolestoreConfig) {
    this.ownUsers = config.hostBrokerUsers === 'on';
    this.sharedUser = config.insecureSharedBrokerUser;
  }

  /** What a host has: its own user, the shared one (allowed, insecure), or none it may use. */
  identityOf(hasOwnUser: boolean): HostBrokerIdentity {
    if (hasOwnUser) return 'own';
    return this.sharedUser !== undefined ? 'shared-insecure' : 'none';
  }

  /** Why new hosts cannot join now, or null when they can. */
  joinRefusal(): string | null {
    if (this.ownUsers || this.sharedUser !== undefined) return null;
    return (
      'the plane cannot give hosts broker users of their own (PF9_HOST_BROKER_USERS is off, or RabbitMQ\'s management API did not answer at start) ' +
      'and does not admit hosts on a shared broker user: enable the management API (rabbitmq-plugins enable rabbitmq_management) and restart the role store, ' +
      'or accept that every such host can act as every other with PF9_INSECURE_SHARED_BROKER_USER=<user>'
    );
  }

  /** Why a host that has no broker user of its own cannot be authorized, or null when it can. */
  authorizeRefusal(hostId: string, hasOwnUser: boolean): string | null {
    if (hasOwnUser || this.sharedUser !== undefined) return null;
    return (
      `host ${hostId} has no broker user of its own, and the plane does not admit hosts on a shared one (PF9_INSECURE_SHARED_BROKER_USER): ` +
      (this.ownUsers ? `register it again with a join token made for it (hostplane join-token create --host ${hostId})` : 'the plane cannot make broker users now (PF9_HOST_BROKER_USERS, the management API)')
    );
  }

  /** Says at start what hosts get. */
  logAtStart(logger: Logger): void {
    if (this.sharedUser !== undefined) {
      logger.warn('INSECURE: hosts without a broker user of their own are admitted on the shared broker user, and each of them can act as every other host', {
        sharedBrokerUser: this.sharedUser,
        ownUsers: this.ownUsers,
      });
    } else if (!this.ownUsers) {
      logger.error(`hosts cannot join: ${this.joinRefusal() ?? ''}`);
    }
  }
}

/**
 * PF9_HOST_BROKER_USERS resolved: `auto` is on when the management API answers now. An
 * operator who said `on` gets on (the calls fail, and say why, until the API answers).
 */
export async function resolveHostBrokerUsers(setting: 'on' | 'off' | 'auto', managementAnswers: () => Promise<void>, logger: Logger): Promise<boolean> {
  if (setting !== 'auto') return setting === 'on';
  try {
    await managementAnswers();
    logger.info("RabbitMQ's management API answers: each host gets a broker user of its own");
    return true;
  } catch (err) {
    logger.warn("RabbitMQ's management API does not answer: hosts get no broker user of their own", { err: err instanceof Error ? err.message : String(err) });
    return false;
  }
}
