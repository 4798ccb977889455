import { Exchanges, HOST_HEARTBEAT, RoutingKeys, type CommsStatus, type HostHeartbeatEvent } from '#contracts';
import type { AmqpConnection } from '#amqp';
import type { Logger } from '#logging';
import type { InventoryCollector } from './inventory.collector';
import type { RoleEngine } from './role-engine';
import type { AgentMetrics } from './hostagent.metrics';

export const AGENT_VERSION = '0.1.0';

/**
 * A heartbeat every interval, the first after a random part of one, so that a fleet
 * started together does not beat together. Heartbeats are not kept while the broker is
 * away: the next one supersedes them.
 */
export class HeartbeatPublisher {
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;

  constructor(
    private readonly hostId: string,
    private readonly intervalMs: number,
    private readonly inventory: InventoryCollector,
    private readonly roles: RoleEngine,
    private readonly connection: AmqpConnection,
    private readonly logger: Logger,
    private readonly metrics?: AgentMetrics,
    private readonly commsStatus: () => CommsStatus | undefined = () => undefined,
  ) {}

  start(firstDelayMs = Math.floor(Math.random() * Math.min(this.intervalMs, 5000))): void {
    const tick = async (): Promise<void> => {
      await this.beat();
      if (this.timer) this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    this.timer = setTimeout(() => void tick(), firstDelayMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get count(): number {
    return this.sent;
  }

  async build(): Promise<HostHeartbeatEvent> {
    const inventory = await this.inventory.collect();
    const comms = this.commsStatus();
    return { hostId: this.hostId, agentVersion: AGENT_VERSION, sentAt: new Date().toISOString(), ...inventory, roles: this.roles.summary(), ...(comms ? { comms } : {}) };
  }

  async beat(): Promise<boolean> {
    if (!this.connection.isConnected()) {
      this.metrics?.heartbeats.inc({ outcome: 'skipped' });
      return false;
    }
    try {
      const body = await this.build();
      await this.connection.publish(Exchanges.events, RoutingKeys.hostEvent(this.hostId, 'heartbeat'), HOST_HEARTBEAT, body, { persistent: false });
      this.sent += 1;
      this.metrics?.heartbeats.inc({ outcome: 'sent' });
      return true;
    } catch (err) {
      this.metrics?.heartbeats.inc({ outcome: 'failed' });
      this.logger.warn('heartbeat not sent', { err: String(err) });
      return false;
    }
  }
}
