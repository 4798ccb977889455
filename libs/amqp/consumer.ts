import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  describeDetails,
  ErrorCodes,
  Exchanges,
  Headers,
  isMessageKind,
  MAX_BODY_BYTES,
  validateMessage,
  type ErrorBody,
  type MessageKind,
  type MessageOf,
  type Reply,
  type ResultOf,
} from '#contracts';
import type { Logger } from '#logging';
import type { AmqpConnection } from './amqp-connection';
import { ApplicationError, internalError } from './errors';
import type { AmqpMetrics } from './amqp-metrics';
import type { IdempotencyStore } from './idempotency';

export interface MessageContext {
  kind: MessageKind;
  routingKey: string;
  exchange: string;
  messageId?: string;
  /** The broker-validated user id (user_id property), when the sender set one. */
  userId?: string;
  appId?: string;
  redelivered: boolean;
}

export type MessageHandler<K extends MessageKind> = (message: MessageOf<K>, context: MessageContext) => Promise<ResultOf<K>>;

export type HandlerMap = { [K in MessageKind]?: MessageHandler<K> };

export interface ConsumerOptions {
  queue: string;
  /** Declares the queue and its bindings on the given channel (runs on every reconnect). */
  declare: (channel: Channel) => Promise<void>;
  handlers: HandlerMap;
  prefetch: number;
  /** On pf9.api a message without `type` is taken as the kind its routing key names. */
  kindFromRoutingKey?: boolean;
  /** Where processed message ids and their replies are kept, for the kinds that want it. */
  idempotency?: { store: IdempotencyStore; kinds: ReadonlySet<MessageKind> };
  metrics?: AmqpMetrics;
  logger: Logger;
  /** Asked before a refused message is copied to pf9.dlx: false leaves the copy out (the message is still acked). */
  deadLetterBudget?: (msg: ConsumeMessage) => boolean;
}

/** Why a message is refused before any handler sees it. */
type Refusal = { reason: string; error: ErrorBody; kind: string };

/**
 * The one consumer pipeline: size limit, JSON parse, kind lookup, validation, handler,
 * ack. A message refused on the way is copied to pf9.dlx with the reason in
 * x-pf9-error, answered with an error reply where reply_to is set, and acked, so one
 * bad message never wedges or crashes the consumer.
 */
export class MessageConsumer {
  private readonly logger: Logger;

  constructor(
    private readonly connection: AmqpConnection,
    private readonly options: ConsumerOptions,
  ) {
    this.logger = options.logger.child({ component: 'consumer', queue: options.queue });
  }

  /** Registers the consumer; it is set up again after every reconnect. */
  async start(): Promise<void> {
    await this.connection.addSetup((model) => this.setup(model));
  }

  private async setup(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', (err: unknown) => this.logger.warn('consumer channel error', { err: String(err) }));
    await channel.prefetch(this.options.prefetch);
    await this.options.declare(channel);
    await channel.consume(this.options.queue, (msg) => {
      if (msg) void this.handle(channel, msg);
    });
  }

  private async handle(channel: Channel, msg: ConsumeMessage): Promise<void> {
    const refusal = this.check(msg);
    if ('reason' in refusal) {
      await this.refuse(channel, msg, refusal);
      return;
    }
    const { kind, body } = refusal;
    const props = msg.properties;
    const messageId = typeof props.messageId === 'string' && props.messageId !== '' ? props.messageId : undefined;
    const idempotency = this.options.idempotency;
    const useIdempotency = idempotency !== undefined && messageId !== undefined && idempotency.kinds.has(kind);
    try {
      if (useIdempotency) {
        const earlier = await idempotency.store.get(messageId);
        if (earlier !== null) {
          this.logger.info('duplicate message: answered again, not processed again', { kind, messageId });
          await this.reply(msg, earlier);
          channel.ack(msg);
          return;
        }
      }
      const handler = this.options.handlers[kind] as MessageHandler<typeof kind> | undefined;
      if (!handler) throw new Error(`no handler for ${kind}`);
      const context: MessageContext = {
        kind,
        routingKey: msg.fields.routingKey,
        exchange: msg.fields.exchange,
        messageId,
        userId: typeof props.userId === 'string' ? props.userId : undefined,
        appId: typeof props.appId === 'string' ? props.appId : undefined,
        redelivered: msg.fields.redelivered,
      };
      const result = await handler(body, context);
      const reply: Reply<unknown> = { ok: true, result: result ?? {} };
      if (useIdempotency) await idempotency.store.put(messageId, kind, reply);
      await this.reply(msg, reply);
      channel.ack(msg);
      this.options.metrics?.consumed.inc({ kind });
    } catch (err) {
      await this.onHandlerError(channel, msg, kind, err, useIdempotency ? messageId : undefined);
    }
  }

  private check(msg: ConsumeMessage): Refusal | { kind: MessageKind; body: MessageOf<MessageKind> } {
    const declared = msg.properties.type;
    const rawKind = typeof declared === 'string' && declared !== '' ? declared : this.options.kindFromRoutingKey ? msg.fields.routingKey : '';
    const kindLabel = isMessageKind(rawKind) ? rawKind : 'unknown';
    if (msg.content.length > MAX_BODY_BYTES) {
      return refusal('body-too-large', ErrorCodes.validationFailed, `body of ${msg.content.length} bytes exceeds the limit of ${MAX_BODY_BYTES}`, kindLabel);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(msg.content.toString('utf8'));
    } catch (err) {
      return refusal('invalid-json', ErrorCodes.validationFailed, `body is not valid JSON: ${(err as Error).message}`, kindLabel);
    }
    if (!isMessageKind(rawKind) || !(rawKind in this.options.handlers)) {
      return refusal('unknown-type', ErrorCodes.unknownType, rawKind === '' ? 'message has no type' : `unknown message type '${rawKind}'`, kindLabel);
    }
    const validated = validateMessage(rawKind, parsed);
    if (!validated.ok) {
      return {
        reason: 'validation-failed',
        kind: rawKind,
        error: { code: ErrorCodes.validationFailed, message: `invalid ${rawKind}: ${describeDetails(validated.details)}`, details: validated.details },
      };
    }
    return { kind: rawKind, body: validated.value };
  }

  private async refuse(channel: Channel, msg: ConsumeMessage, refusal: Refusal): Promise<void> {
    this.logger.warn('message refused', { reason: refusal.reason, error: refusal.error.message, messageId: msg.properties.messageId });
    this.options.metrics?.rejected.inc({ kind: refusal.kind, reason: refusal.reason });
    try {
      await this.deadLetter(msg, `${refusal.error.code}: ${refusal.error.message}`);
      await this.reply(msg, { ok: false, error: refusal.error });
      channel.ack(msg);
    } catch (err) {
      // Broker trouble while dead-lettering: let the broker's own dead-lettering take it.
      this.logger.warn('could not dead-letter a refused message; rejecting it', { err: String(err) });
      safely(() => channel.nack(msg, false, false));
    }
  }

  private async onHandlerError(channel: Channel, msg: ConsumeMessage, kind: MessageKind, err: unknown, messageId: string | undefined): Promise<void> {
    if (err instanceof ApplicationError) {
      this.options.metrics?.rejected.inc({ kind, reason: err.code });
      const reply: Reply<unknown> = { ok: false, error: err.toBody() };
      try {
        if (messageId !== undefined) await this.options.idempotency?.store.put(messageId, kind, reply);
        await this.reply(msg, reply);
        channel.ack(msg);
      } catch (replyErr) {
        this.logger.warn('could not answer a refused command', { err: String(replyErr) });
        safely(() => channel.nack(msg, false, true));
      }
      return;
    }
    this.logger.error('handler failed', { kind, err: err instanceof Error ? err.message : String(err), redelivered: msg.fields.redelivered });
    if (!msg.fields.redelivered) {
      // One more try, which may land on another consumer or after a passing fault.
      safely(() => channel.nack(msg, false, true));
      return;
    }
    this.options.metrics?.rejected.inc({ kind, reason: 'internal' });
    try {
      await this.deadLetter(msg, `${ErrorCodes.internal}: ${err instanceof Error ? err.message : String(err)}`);
      await this.reply(msg, { ok: false, error: internalError() });
      channel.ack(msg);
    } catch {
      safely(() => channel.nack(msg, false, false));
    }
  }

  private async deadLetter(msg: ConsumeMessage, reason: string): Promise<void> {
    if (this.options.deadLetterBudget?.(msg) === false) return;
    const props = msg.properties;
    await this.connection.publishRaw(Exchanges.deadLetter, msg.fields.routingKey, msg.content, {
      contentType: props.contentType,
      type: props.type,
      messageId: props.messageId,
      correlationId: props.correlationId,
      replyTo: props.replyTo,
      timestamp: props.timestamp,
      appId: props.appId,
      persistent: true,
      headers: {
        ...(props.headers ?? {}),
        [Headers.error]: reason,
        'x-pf9-original-exchange': msg.fields.exchange,
        'x-pf9-original-routing-key': msg.fields.routingKey,
        'x-pf9-queue': this.options.queue,
      },
    });
  }

  private async reply(msg: ConsumeMessage, reply: Reply<unknown>): Promise<void> {
    const replyTo = msg.properties.replyTo;
    if (typeof replyTo !== 'string' || replyTo === '') return;
    await this.connection.publish('', replyTo, 'reply', reply, {
      correlationId: typeof msg.properties.correlationId === 'string' ? msg.properties.correlationId : undefined,
      persistent: false,
    });
  }
}

function refusal(reason: string, code: ErrorBody['code'], message: string, kind: string): Refusal {
  return { reason, kind, error: { code, message, details: [] } };
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // the channel is gone; the broker redelivers unacked messages
  }
}
