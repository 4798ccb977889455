import { randomUUID } from 'node:crypto';
import { Exchanges, ROLE_STATUS, RoutingKeys, type RoleStatusEvent } from '#contracts';
import type { AmqpConnection } from '#amqp';
import type { Logger } from '#logging';
import type { Outbox } from './outbox';
import type { RoleStatusReport, StatusSink } from './role-engine';
import type { AgentMetrics } from './hostagent.metrics';

/** A hook may print NUL bytes; the plane refuses them in text (no database column holds them). */
function withoutNul(text: string | undefined): string | undefined {
  return text?.replaceAll('\u0000', '\ufffd');
}

/**
 * Status reports go to the on-disk outbox first and leave it in order, each removed
 * only once the broker confirmed it; while the broker is away they wait.
 */
export class StatusReporter implements StatusSink {
  constructor(
    private readonly hostId: string,
    private readonly outbox: Outbox,
    private readonly connection: AmqpConnection,
    private readonly logger: Logger,
    private readonly metrics?: AgentMetrics,
  ) {}

  async report(status: RoleStatusReport): Promise<void> {
    const body: RoleStatusEvent = { hostId: this.hostId, ...status, message: withoutNul(status.message), log: withoutNul(status.log) };
    if (body.message === undefined) delete body.message;
    if (body.log === undefined) delete body.log;
    await this.outbox.append({ kind: ROLE_STATUS, routingKey: RoutingKeys.hostEvent(this.hostId, 'role-status'), body, messageId: randomUUID() });
    this.logger.info('role status', { role: status.role, version: status.version, generation: status.generation, state: status.state, message: status.message });
    void this.flush();
  }

  /** Sends what waits, in order; stops at the first failure and leaves the rest. */
  async flush(): Promise<number> {
    if (!this.connection.isConnected()) {
      this.metrics?.outboxSize.set(this.outbox.size());
      return 0;
    }
    try {
      return await this.outbox.drain((entry) =>
        this.connection.publish(Exchanges.events, entry.routingKey, entry.kind, entry.body, { messageId: entry.messageId, persistent: true }),
      );
    } catch (err) {
      this.logger.warn('status reports wait in the outbox', { err: String(err), waiting: this.outbox.size() });
      return 0;
    } finally {
      this.metrics?.outboxSize.set(this.outbox.size());
    }
  }
}
