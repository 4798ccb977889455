import { EventEmitter, once } from 'node:events';
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { CONTENT_TYPE_JSON, type MessageKind } from '#contracts';
import type { Logger } from '#logging';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { NotConnectedError, UnroutableError } from './errors';
import { declareExchanges } from './topology';
import type { AmqpMetrics } from './amqp-metrics';

export interface AmqpConnectionOptions {
  /** The broker; a function is asked again at every (re)connect, so credentials can change. */
  url: string | (() => string);
  /** The AMQP app_id of every message this process sends. */
  appId: string;
  logger: Logger;
  backoff?: BackoffOptions;
  /** How many publisher confirms may be outstanding before publish() waits. */
  maxUnconfirmed?: number;
  heartbeatS?: number;
  connectTimeoutMs?: number;
  metrics?: AmqpMetrics;
  /**
   * Declare the contract's exchanges on connect (the plane does). A host's broker user
   * may not configure exchanges, so hosts leave it to the plane.
   */
  declareTopology?: boolean;
  /** Sets user_id on every message; the broker refuses it unless it is the connection's user. */
  userId?: string | (() => string | undefined);
  /**
   * Reach the broker through this Unix socket instead of the URL's host and port (the URL
   * then gives the credentials and the vhost). Asked at every (re)connect, so that it can
   * check the socket first: a rejection is a failed attempt, tried again with backoff.
   */
  socketPath?: () => Promise<string>;
}

export interface PublishOptions {
  messageId?: string;
  persistent?: boolean;
  replyTo?: string;
  correlationId?: string;
  headers?: Record<string, unknown>;
  userId?: string;
  expirationMs?: number;
  /**
   * The broker must route it to a queue: one that no queue takes rejects with UnroutableError
   * (rather than being confirmed and dropped), so the sender keeps it and tries again.
   */
  mandatory?: boolean;
}

/** Runs on every (re)connect: declare topology, start consumers. */
export type SetupHook = (connection: ChannelModel) => Promise<void>;

/**
 * One AMQP connection that comes back by itself. Publishing goes through a confirm
 * channel with a bounded window of unconfirmed messages; setup hooks run again on
 * every reconnect, so consumers and topology survive a broker restart.
 */
export class AmqpConnection extends EventEmitter {
  private connection: ChannelModel | null = null;
  private publishChannel: ConfirmChannel | null = null;
  private readonly hooks: SetupHook[] = [];
  private attempt = 0;
  private stopped = false;
  private started = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private unconfirmed = 0;
  private everConnected = false;
  private drained: Promise<void> | null = null;
  private readonly waiters: Array<() => void> = [];
  /** Message ids of mandatory messages the broker returned, until their confirm comes (it comes after the return). */
  private readonly returned = new Set<string>();
  private readonly logger: Logger;

  constructor(private readonly options: AmqpConnectionOptions) {
    super();
    this.logger = options.logger.child({ component: 'amqp' });
    this.setMaxListeners(100);
  }

  private url(): string {
    return typeof this.options.url === 'function' ? this.options.url() : this.options.url;
  }

  get appId(): string {
    return this.options.appId;
  }

  isConnected(): boolean {
    return this.publishChannel !== null;
  }

  /** Adds a hook; if already connected it runs now as well. */
  async addSetup(hook: SetupHook): Promise<void> {
    this.hooks.push(hook);
    if (this.connection) await hook(this.connection);
  }

  /** Starts connecting in the background; never throws. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
  }

  /** Resolves once connected; rejects after timeoutMs. */
  async ready(timeoutMs = 30_000): Promise<void> {
    this.start();
    if (this.isConnected()) return;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      await once(this, 'connected', { signal: timeout });
    } catch {
      throw new NotConnectedError(`broker at ${redactUrl(this.url())} within ${timeoutMs} ms`);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = null;
    this.publishChannel = null;
    this.releaseWaiters();
    if (connection) {
      try {
        await connection.close();
      } catch {
        // already closing
      }
    }
  }

  /** Opens a plain channel (for consumers); the caller sets its prefetch. */
  async createChannel(): Promise<Channel> {
    if (!this.connection) throw new NotConnectedError();
    return this.connection.createChannel();
  }

  /** Publishes a JSON message of a contract kind and resolves when the broker confirmed it. */
  async publish(exchange: string, routingKey: string, kind: MessageKind | string, body: unknown, options: PublishOptions = {}): Promise<void> {
    const content = Buffer.from(JSON.stringify(body));
    await this.publishRaw(exchange, routingKey, content, {
      contentType: CONTENT_TYPE_JSON,
      contentEncoding: 'utf-8',
      type: kind,
      messageId: options.messageId ?? randomUUID(),
      timestamp: Math.floor(Date.now() / 1000),
      appId: this.options.appId,
      persistent: options.persistent ?? true,
      replyTo: options.replyTo,
      correlationId: options.correlationId,
      headers: options.headers,
      userId: options.userId ?? (typeof this.options.userId === 'function' ? this.options.userId() : this.options.userId),
      expiration: options.expirationMs === undefined ? undefined : String(options.expirationMs),
      mandatory: options.mandatory,
    });
    this.options.metrics?.published.inc({ kind });
  }

  async publishRaw(exchange: string, routingKey: string, content: Buffer, properties: Options.Publish): Promise<void> {
    const max = this.options.maxUnconfirmed ?? 1000;
    while (this.unconfirmed >= max) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.drained) await this.drained;
    const channel = this.publishChannel;
    if (!channel) throw new NotConnectedError();
    this.unconfirmed += 1;
    try {
      await new Promise<void>((resolve, reject) => {
        const messageId = typeof properties.messageId === 'string' ? properties.messageId : undefined;
        if (properties.mandatory === true && messageId === undefined) throw new TypeError('a mandatory message needs a message id');
        const flowing = channel.publish(exchange, routingKey, content, properties, (err) => {
          if (err) reject(err instanceof Error ? err : new Error(`publish not confirmed: ${String(err)}`));
          else if (properties.mandatory === true && messageId !== undefined && this.returned.delete(messageId)) reject(new UnroutableError(exchange, routingKey));
          else resolve();
        });
        // The channel buffers without limit: the next publish waits until it has drained.
        if (!flowing && !this.drained) {
          this.drained = Promise.race([once(channel, 'drain'), once(channel, 'close')]).then(
            () => void (this.drained = null),
            () => void (this.drained = null),
          );
        }
      });
    } finally {
      this.unconfirmed -= 1;
      this.waiters.shift()?.();
    }
  }

  private releaseWaiters(): void {
    while (this.waiters.length > 0) this.waiters.shift()?.();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let where = redactUrl(this.url());
    try {
      const path = this.options.socketPath === undefined ? undefined : await this.options.socketPath();
      if (path !== undefined) where = `${where} through ${path}`;
      const connection = await amqp.connect(withHeartbeat(this.url(), this.options.heartbeatS ?? 15), {
        // net.connect takes `path` over host and port.
        ...(path === undefined ? {} : { path }),
        noDelay: true,
        timeout: this.options.connectTimeoutMs ?? 10_000,
        clientProperties: { connection_name: this.options.appId },
      });
      connection.on('error', (err: unknown) => this.logger.warn('connection error', { err }));
      connection.on('close', () => this.onClosed(connection));
      const channel = await connection.createConfirmChannel();
      channel.on('error', (err: unknown) => this.logger.warn('publish channel error', { err }));
      channel.on('return', (msg: { properties: { messageId?: unknown } }) => {
        if (typeof msg.properties.messageId === 'string') this.returned.add(msg.properties.messageId);
      });
      channel.on('close', () => {
        if (this.connection === connection && !this.stopped) {
          // A channel-level error closed it: the connection is unusable for our purposes, start over.
          void connection.close().catch(() => undefined);
        }
      });
      if (this.options.declareTopology ?? true) await declareExchanges(channel);
      this.connection = connection;
      this.publishChannel = channel;
      for (const hook of this.hooks) await hook(connection);
      if (this.stopped) {
        await connection.close().catch(() => undefined);
        return;
      }
      const wasReconnect = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.logger.info('connected to the broker', { url: where });
      this.emit('connected');
      if (wasReconnect) this.emit('reconnected');
    } catch (err) {
      this.logger.warn('cannot connect to the broker', { url: where, err: String(err) });
      if (this.connection) await this.connection.close().catch(() => undefined);
      this.connection = null;
      this.publishChannel = null;
      this.scheduleReconnect();
    }
  }

  private onClosed(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = null;
    this.publishChannel = null;
    this.returned.clear();
    this.releaseWaiters();
    if (this.stopped) return;
    this.logger.warn('broker connection lost');
    this.emit('disconnected');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt, this.options.backoff ?? DEFAULT_BACKOFF);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref?.();
  }
}

function withHeartbeat(url: string, heartbeatS: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return url + (url.includes('?') ? '&' : '?') + `heartbeat=${heartbeatS}`;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
