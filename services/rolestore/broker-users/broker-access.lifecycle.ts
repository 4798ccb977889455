import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Logger } from '#logging';
import { BrokerIdentityPolicy } from './broker-identity';
import { HostAccessService } from './host-access.service';

/**
 * Brings the hosts' broker users in line with the database at start, in the background: a
 * slow or absent management API (up to its timeout per call, per host) must not hold up
 * readiness. It stops (grace timers, retries, calls under way) once no more messages can
 * come (the broker connection closes first) and before the database closes (its module is
 * shut down last).
 */
@Injectable()
export class BrokerAccessLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private reconciling: Promise<void> = Promise.resolve();

  constructor(
    private readonly access: HostAccessService,
    private readonly identity: BrokerIdentityPolicy,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.identity.logAtStart(this.logger);
    this.reconciling = this.access.reconcile().catch((err: unknown) => this.logger.error("could not reconcile the hosts' broker access", { err: String(err) }));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.access.stop();
    await this.reconciling;
  }
}
