import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { brokerUrl } from './test-env';

export interface CapturedMessage {
  routingKey: string;
  properties: ConsumeMessage['properties'];
  body: unknown;
  raw: Buffer;
}

/**
 * A plain amqplib client for tests, written against the wire contract only (not
 * libs/amqp), the way an outside program would speak to the plane.
 */
export class RawAmqp {
  private constructor(
    readonly connection: ChannelModel,
    readonly channel: ConfirmChannel,
    private readonly replyChannel: Channel,
    private readonly replies: Map<string, (msg: ConsumeMessage) => void>,
  ) {}

  static async open(url = brokerUrl()): Promise<RawAmqp> {
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    const replyChannel = await connection.createChannel();
    const replies = new Map<string, (msg: ConsumeMessage) => void>();
    await replyChannel.consume(
      'amq.rabbitmq.reply-to',
      (msg) => {
        if (!msg) return;
        const handler = replies.get(String(msg.properties.correlationId));
        if (handler) handler(msg);
      },
      { noAck: true },
    );
    return new RawAmqp(connection, channel, replyChannel, replies);
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }

  async publish(exchange: string, routingKey: string, content: Buffer | string | object, properties: Options.Publish = {}): Promise<void> {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
    this.channel.publish(exchange, routingKey, bytes, properties);
    await this.channel.waitForConfirms();
  }

  /** Publishes on pf9.api with direct reply-to and resolves with the parsed reply. */
  request(routingKey: string, content: Buffer | string | object, properties: Options.Publish = {}, timeoutMs = 10_000): Promise<{ body: unknown; properties: ConsumeMessage['properties'] }> {
    return this.requestVia('pf9.api', routingKey, content, properties, timeoutMs);
  }

  /** Publishes on `exchange` ('' for a queue by its name) with direct reply-to and resolves with the parsed reply. */
  async requestVia(
    exchange: string,
    routingKey: string,
    content: Buffer | string | object,
    properties: Options.Publish = {},
    timeoutMs = 10_000,
  ): Promise<{ body: unknown; properties: ConsumeMessage['properties'] }> {
    const correlationId = properties.correlationId ?? randomUUID();
    const reply = new Promise<ConsumeMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(correlationId);
        reject(new Error(`no reply to ${routingKey} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replies.set(correlationId, (msg) => {
        clearTimeout(timer);
        this.replies.delete(correlationId);
        resolve(msg);
      });
    });
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
    this.replyChannel.publish(exchange, routingKey, bytes, { contentType: 'application/json', ...properties, replyTo: 'amq.rabbitmq.reply-to', correlationId });
    const msg = await reply;
    return { body: JSON.parse(msg.content.toString('utf8')), properties: msg.properties };
  }

  /** An exclusive queue bound to `exchange` with `pattern`, collecting what arrives. */
  async capture(exchange: string, pattern: string): Promise<Capture> {
    const { queue } = await this.channel.assertQueue('', { exclusive: true, autoDelete: true });
    await this.channel.bindQueue(queue, exchange, pattern);
    const capture = new Capture();
    await this.channel.consume(queue, (msg) => msg && capture.push(msg), { noAck: true });
    return capture;
  }

  async purge(queue: string): Promise<void> {
    await this.channel.assertQueue(queue, { durable: true, arguments: { 'x-dead-letter-exchange': 'pf9.dlx' } }).catch(() => undefined);
    await this.channel.purgeQueue(queue);
  }
}

export class Capture {
  readonly messages: CapturedMessage[] = [];
  private waiters: Array<() => void> = [];

  push(msg: ConsumeMessage): void {
    let body: unknown;
    try {
      body = JSON.parse(msg.content.toString('utf8'));
    } catch {
      body = undefined;
    }
    this.messages.push({ routingKey: msg.fields.routingKey, properties: msg.properties, body, raw: msg.content });
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first message (already here or yet to come) that matches. */
  async next(match: (m: CapturedMessage) => boolean, timeoutMs = 10_000): Promise<CapturedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms (saw ${this.messages.length}: ${this.messages.map((m) => m.routingKey).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }
}
