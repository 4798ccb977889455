import * as amqp from 'amqplib';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { brokerUrl } from './test-env';

/** What the stand-in plane answers: a result, an error code, or nothing at all. */
export type ResponderAnswer = { authenticated: false } | { authenticated: true; user: { username: string; uid: string; groups: string[] }; expiresAt?: string | null } | { error: string } | 'silent';

export interface ReceivedReview {
  routingKey: string;
  body: { hostId?: unknown; token?: unknown };
  properties: ConsumeMessage['properties'];
}

/**
 * Stands in for the plane's side of token.review on the real broker: a queue bound to
 * pf9.events with host.*.token-review, answering each request as `answer` says, on the
 * request's reply_to, in the contract's reply shape.
 */
export class TokenReviewResponder {
  readonly received: ReceivedReview[] = [];

  private constructor(private readonly connection: ChannelModel) {}

  static async start(answer: (review: ReceivedReview) => ResponderAnswer, url = brokerUrl()): Promise<TokenReviewResponder> {
    // As the plane's own clients: no Nagle delay on a request/reply path.
    const connection = await amqp.connect(url, { noDelay: true });
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    await channel.assertExchange('pf9.events', 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, 'pf9.events', 'host.*.token-review');
    const responder = new TokenReviewResponder(connection);
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      channel.ack(msg);
      let body: ReceivedReview['body'] = {};
      try {
        body = JSON.parse(msg.content.toString('utf8')) as ReceivedReview['body'];
      } catch {
        // recorded as an empty body
      }
      const review = { routingKey: msg.fields.routingKey, body, properties: msg.properties };
      responder.received.push(review);
      const reply = answer(review);
      if (reply === 'silent' || typeof msg.properties.replyTo !== 'string') return;
      const content = 'error' in reply ? { ok: false, error: { code: reply.error, message: `refused: ${reply.error}`, details: [] } } : { ok: true, result: reply };
      channel.publish('', msg.properties.replyTo, Buffer.from(JSON.stringify(content)), { contentType: 'application/json', correlationId: msg.properties.correlationId as string, type: 'reply' });
    });
    return responder;
  }

  /** The plane goes away: its queue with it. */
  async stop(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
