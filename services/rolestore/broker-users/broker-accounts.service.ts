import { randomBytes } from 'node:crypto';
import { hostBrokerUser } from '#contracts';
import type { Logger } from '#logging';
import { assertHostId, HOST_USER_LIMITS, hostPermissions, NO_PERMISSIONS, QUEUE_BOUNDS } from './host-broker-permissions';
import { ManagementApiError, type RabbitMqManagementClient } from './rabbitmq-management.client';
import { PerKeyQueue } from '../support/per-key-queue';
import type { HostBrokerUsers } from './host-access.service';

/** The management calls this service makes (the real client, or a fake in unit tests). */
export type BrokerManagementApi = Pick<
  RabbitMqManagementClient,
  | 'putUser'
  | 'deleteUser'
  | 'getPermissions'
  | 'setPermissions'
  | 'clearPermissions'
  | 'setTopicPermissions'
  | 'clearTopicPermissions'
  | 'closeUserConnections'
  | 'overview'
  | 'setUserLimit'
  | 'putOperatorPolicy'
>;

export interface HostBrokerCredentials {
  username: string;
  password: string;
}

export class HostBrokerUserMissingError extends Error {
  constructor(readonly hostId: string) {
    super(`host ${hostId} has no broker user ${hostBrokerUser(hostId)} (or the vhost does not exist): it must register again to get one`);
    this.name = 'HostBrokerUserMissingError';
  }
}

/**
 * Each host's own broker user (pf9-host-<hostId>): created at registration able to
 * connect and nothing else, given its own queue and routing keys when the host is
 * authorized, and cut off again (connections closed) when it is deauthorized.
 * Calls for one host run one after the other, so a quick authorize/deauthorize cannot
 * leave the broker with the older of the two.
 */
export class BrokerAccountsService implements HostBrokerUsers {
  private readonly perHost = new PerKeyQueue();
  private readonly logger: Logger;

  constructor(
    private readonly api: BrokerManagementApi,
    logger: Logger,
    private readonly newPassword: () => string = () => randomBytes(32).toString('base64url'),
  ) {
    this.logger = logger.child({ component: 'broker-accounts' });
  }

  /**
   * Creates the host's user, or gives an existing one a new password. A new user may
   * connect and do nothing; an existing one keeps the permissions it has (grant and
   * revoke alone change them), so a host that registers again is not cut off.
   */
  async ensureHostUser(hostId: string): Promise<HostBrokerCredentials> {
    assertHostId(hostId);
    return this.perHost.run(hostId, async () => {
      const username = hostBrokerUser(hostId);
      const password = this.newPassword();
      await this.api.putUser(username, password);
      // Set again on every registration: a user made before the limits existed gets them too.
      for (const [limit, value] of Object.entries(HOST_USER_LIMITS) as Array<[keyof typeof HOST_USER_LIMITS, number]>) await this.api.setUserLimit(username, limit, value);
      if ((await this.api.getPermissions(username)) === null) await this.api.setPermissions(username, NO_PERMISSIONS);
      this.logger.info('host broker user ready', { hostId, username });
      return { username, password };
    });
  }

  /** The host is authorized: its own queue, its own routing keys. */
  async grant(hostId: string): Promise<void> {
    assertHostId(hostId);
    return this.perHost.run(hostId, async () => {
      const username = hostBrokerUser(hostId);
      const permissions = hostPermissions(hostId);
      try {
        // Topic permissions first: until an exchange has an entry, any routing key passes.
        for (const topic of permissions.topics) await this.api.setTopicPermissions(username, topic);
        await this.api.setPermissions(username, permissions.vhost);
      } catch (err) {
        if (isUserNotFound(err)) throw new HostBrokerUserMissingError(hostId);
        throw err;
      }
      this.logger.info('host broker user granted its queue and routing keys', { hostId, username });
    });
  }

  /**
   * The host is deauthorized: back to connect-and-nothing-else, and its open connections
   * closed, because the broker caches permission checks on open channels.
   */
  async revoke(hostId: string): Promise<void> {
    assertHostId(hostId);
    return this.perHost.run(hostId, async () => {
      const username = hostBrokerUser(hostId);
      try {
        // Vhost permissions first: topic permissions only narrow what they allow.
        await this.api.setPermissions(username, NO_PERMISSIONS);
      } catch (err) {
        if (!isUserNotFound(err)) throw err;
        this.logger.debug('host has no broker user: nothing to revoke', { hostId, username });
        return;
      }
      await this.api.clearTopicPermissions(username);
      const closed = await this.api.closeUserConnections(username, `host ${hostId} deauthorized`);
      this.logger.info('host broker user revoked', { hostId, username, connectionsClosed: closed });
    });
  }

  /** The host is gone for good: its user, permissions and connections with it. */
  async deleteHostUser(hostId: string): Promise<void> {
    assertHostId(hostId);
    return this.perHost.run(hostId, async () => {
      const username = hostBrokerUser(hostId);
      await this.api.clearPermissions(username);
      await this.api.clearTopicPermissions(username);
      await this.api.closeUserConnections(username, `host ${hostId} removed`);
      await this.api.deleteUser(username);
      this.logger.info('host broker user deleted', { hostId, username });
    });
  }

  /** Bounds the queues hosts can make grow (their own, pf9.dead); idempotent, applied at every start. */
  async boundQueues(): Promise<void> {
    for (const policy of QUEUE_BOUNDS) await this.api.putOperatorPolicy(policy);
    this.logger.info('queue bounds in place', { policies: QUEUE_BOUNDS.map((p) => `${p.name} ${p.pattern} ${JSON.stringify(p.definition)}`) });
  }

  /** Throws unless the management API answers (for /healthz and boot checks). */
  async check(): Promise<void> {
    await this.api.overview();
  }
}

/** RabbitMQ answers 400 vhost_or_user_not_found when setting permissions of a missing user. */
function isUserNotFound(err: unknown): boolean {
  return err instanceof ManagementApiError && (err.status === 404 || (err.status === 400 && err.body.includes('not_found')));
}
