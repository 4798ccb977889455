import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { DIRECT_REPLY_TO, type MessageKind, type Reply, type ResultOf } from '#contracts';
import type { AmqpConnection } from './amqp-connection';
import { NotConnectedError, RequestTimeoutError, UnroutableError } from './errors';

export interface RequestOptions {
  /** How long to wait for the reply; default 10 s. */
  timeoutMs?: number;
  messageId?: string;
  /** user_id, which the broker checks against the connection's user (a host speaking as itself). */
  userId?: string;
  /** The broker drops the request if no consumer took it within this time (a stale request is worth nothing). */
  expirationMs?: number;
  /** Default true. */
  persistent?: boolean;
}

interface Pending {
  resolve: (reply: Reply<unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Request/reply over RabbitMQ's direct reply-to: no reply queue to declare or clean up. */
export class RpcClient {
  private channel: Channel | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly connection: AmqpConnection) {}

  async start(): Promise<void> {
    await this.connection.addSetup((model) => this.open(model));
  }

  private async open(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      const inService = this.channel === channel;
      if (inService) this.channel = null;
      this.failAll(new NotConnectedError());
      // A refusal by the broker (a publish it does not allow) closes this channel alone: the connection goes on, and so do we.
      if (inService && this.connection.isConnected()) void this.open(model).catch(() => undefined);
    });
    // Published with `mandatory`: a request that no queue takes comes back at once instead of timing out.
    channel.on('return', (msg: ConsumeMessage) => this.settle(msg.properties.correlationId, (entry) => entry.reject(new UnroutableError(msg.fields.exchange, msg.fields.routingKey))));
    await channel.consume(
      DIRECT_REPLY_TO,
      (msg) => {
        if (!msg) return;
        this.settle(msg.properties.correlationId, (entry) => {
          try {
            entry.resolve(JSON.parse(msg.content.toString('utf8')) as Reply<unknown>);
          } catch (err) {
            entry.reject(err as Error);
          }
        });
      },
      { noAck: true },
    );
    this.channel = channel;
  }

  private settle(correlationId: unknown, act: (entry: Pending) => void): void {
    const entry = typeof correlationId === 'string' ? this.pending.get(correlationId) : undefined;
    if (!entry) return;
    this.pending.delete(correlationId as string);
    clearTimeout(entry.timer);
    act(entry);
  }

  /** Sends a request of a contract kind and waits for its reply. */
  async request<K extends MessageKind>(exchange: string, routingKey: string, kind: K, body: unknown, options: RequestOptions = {}): Promise<Reply<ResultOf<K>>> {
    const channel = this.channel;
    if (!channel) throw new NotConnectedError();
    const correlationId = randomUUID();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const reply = new Promise<Reply<unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new RequestTimeoutError(kind, timeoutMs));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    // Direct reply-to requires the request to go out on the channel that consumes the replies.
    channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), {
      contentType: 'application/json',
      type: kind,
      messageId: options.messageId ?? randomUUID(),
      timestamp: Math.floor(Date.now() / 1000),
      appId: this.connection.appId,
      replyTo: DIRECT_REPLY_TO,
      correlationId,
      persistent: options.persistent ?? true,
      mandatory: true,
      userId: options.userId,
      expiration: options.expirationMs === undefined ? undefined : String(options.expirationMs),
    });
    return (await reply) as Reply<ResultOf<K>>;
  }

  private failAll(err: Error): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
      this.pending.delete(id);
    }
  }
}
