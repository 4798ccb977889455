import { randomUUID } from 'node:crypto';
import type { Channel } from 'amqplib';
import { DIRECT_REPLY_TO, type MessageKind, type Reply, type ResultOf } from '#contracts';
import type { AmqpConnection } from './amqp-connection';
import { NotConnectedError } from './errors';

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
    await this.connection.addSetup(async (model) => {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.channel === channel) this.channel = null;
        this.failAll(new NotConnectedError());
      });
      await channel.consume(
        DIRECT_REPLY_TO,
        (msg) => {
          if (!msg) return;
          const id = msg.properties.correlationId;
          const entry = typeof id === 'string' ? this.pending.get(id) : undefined;
          if (!entry) return;
          this.pending.delete(id as string);
          clearTimeout(entry.timer);
          try {
            entry.resolve(JSON.parse(msg.content.toString('utf8')) as Reply<unknown>);
          } catch (err) {
            entry.reject(err as Error);
          }
        },
        { noAck: true },
      );
      this.channel = channel;
    });
  }

  /** Sends a request of a contract kind and waits for its reply. */
  async request<K extends MessageKind>(exchange: string, routingKey: string, kind: K, body: unknown, options: { timeoutMs?: number; messageId?: string } = {}): Promise<Reply<ResultOf<K>>> {
    const channel = this.channel;
    if (!channel) throw new NotConnectedError();
    const correlationId = randomUUID();
    const reply = new Promise<Reply<unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new Error(`no reply to ${kind} within ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
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
      persistent: true,
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
