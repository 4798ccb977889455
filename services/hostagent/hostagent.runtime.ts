import { join } from 'node:path';
import { Exchanges, HOST_DESIRED_STATE, HOST_SYNC, Queues, RoutingKeys, type SyncReason } from '#contracts';
import { AmqpConnection, declareHostQueue, MessageConsumer } from '#amqp';
import type { Logger } from '#logging';
import type { HostagentConfig } from './config/hostagent.config';
import { HeartbeatPublisher } from './heartbeat.publisher';
import { HookRunner } from './hook-runner';
import { AgentMetrics } from './hostagent.metrics';
import { InventoryCollector } from './inventory.collector';
import { Outbox } from './outbox';
import { HttpPackageFetcher } from './package-fetcher';
import { RoleEngine } from './role-engine';
import { RoleStateStore } from './role-state.store';
import { StatusReporter } from './status.reporter';

/**
 * Everything the host agent does, wired: the broker link, the desired-state consumer,
 * the role engine, heartbeats, the outbox of status reports, and the periodic check.
 */
export class HostagentRuntime {
  readonly metrics = new AgentMetrics();
  readonly connection: AmqpConnection;
  readonly engine: RoleEngine;
  readonly heartbeats: HeartbeatPublisher;
  private readonly outbox: Outbox;
  private readonly reporter: StatusReporter;
  private convergeTimer: NodeJS.Timeout | null = null;
  private connectedOnce = false;

  constructor(
    readonly config: HostagentConfig,
    readonly hostId: string,
    private readonly logger: Logger,
  ) {
    const stateDir = join(config.root, 'var/lib/pf9/hostagent');
    this.connection = new AmqpConnection({ url: config.amqpUrl, appId: 'hostagent', logger, metrics: this.metrics.amqp });
    this.outbox = new Outbox(join(stateDir, 'outbox'), { logger });
    this.reporter = new StatusReporter(hostId, this.outbox, this.connection, logger, this.metrics);
    this.engine = new RoleEngine(
      { hostId, root: config.root, hookTimeoutMs: config.hookTimeoutS * 1000 },
      new RoleStateStore(join(stateDir, 'state.json')),
      new HttpPackageFetcher(config.apiUrl),
      new HookRunner({ logger }),
      this.reporter,
      logger,
      this.metrics,
    );
    this.heartbeats = new HeartbeatPublisher(hostId, config.heartbeatIntervalS * 1000, new InventoryCollector(), this.engine, this.connection, logger, this.metrics);
  }

  async start(): Promise<void> {
    await this.outbox.open();
    await this.engine.init();
    const consumer = new MessageConsumer(this.connection, {
      queue: Queues.host(this.hostId),
      declare: async (channel) => void (await declareHostQueue(channel, this.hostId)),
      handlers: { [HOST_DESIRED_STATE]: async (state) => void (await this.engine.offer(state)) },
      prefetch: 10,
      metrics: this.metrics.amqp,
      logger: this.logger,
    });
    await consumer.start();
    this.connection.on('connected', () => void this.onConnected());
    this.connection.start();
    this.heartbeats.start();
    // Roles installed before a restart are reconciled against the last desired state held.
    void this.engine.reconcile();
    this.scheduleConverge();
  }

  async stop(): Promise<void> {
    this.heartbeats.stop();
    if (this.convergeTimer) clearTimeout(this.convergeTimer);
    this.convergeTimer = null;
    await Promise.race([this.engine.idle(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    await this.connection.close();
  }

  /** Asks the plane for the whole desired state. */
  async requestSync(reason: SyncReason): Promise<void> {
    try {
      await this.connection.publish(Exchanges.events, RoutingKeys.hostEvent(this.hostId, 'sync'), HOST_SYNC, { hostId: this.hostId, reason, knownGeneration: this.engine.generation }, { persistent: false });
    } catch (err) {
      this.logger.warn('could not ask for the desired state', { reason, err: String(err) });
    }
  }

  private async onConnected(): Promise<void> {
    const reason: SyncReason = this.connectedOnce ? 'reconnect' : 'start';
    this.connectedOnce = true;
    await this.reporter.flush();
    await this.requestSync(reason);
    if (reason === 'start') await this.heartbeats.beat();
  }

  private scheduleConverge(): void {
    this.convergeTimer = setTimeout(async () => {
      await this.reporter.flush();
      await this.requestSync('timer');
      await this.engine.converge();
      if (this.convergeTimer) this.scheduleConverge();
    }, this.config.convergeIntervalS * 1000);
  }
}
