import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  describeDetails,
  ErrorCodes,
  Exchanges,
  Headers,
  isMessageKind,
  MAX_BODY_BYTES,
  parseJsonBytes,
  validateMessage,
  type ErrorBody,
  type MessageKind,
  type MessageOf,
  type Reply,
  type ResultOf,
  type Validated,
} from '#contracts';
import type { Logger } from '#logging';
import type { AmqpConnection } from './amqp-connection';
import { ApplicationError, internalError, UnavailableError } from './errors';
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
  /** The contract's validation (validateMessage) unless given: a seam for tests of what a throwing validator does. */
  validate?: (kind: MessageKind, body: unknown) => Validated<MessageOf<MessageKind>>;
  /** Where processed message ids and their replies are kept, for the kinds that want it. */
  idempotency?: { store: IdempotencyStore; kinds: ReadonlySet<MessageKind> };
  metrics?: AmqpMetrics;
  logger: Logger;
  /**
   * How long consuming pauses when a handler finds a dependency away (UnavailableError):
   * the first pause, doubled at each one that follows, up to the most.
   */
  unavailableBackoff?: { initialMs: number; maxMs: number };
  /** Asked before a refused message is copied to pf9.dlx: false leaves the copy out (the message is still acked). */
  deadLetterBudget?: (msg: ConsumeMessage) => boolean;
}

/** Messages kept back while a dependency is away, unacked (the prefetch bounds them), until `timer` lets them go again. */
interface Pause {
  channel: Channel;
  held: ConsumeMessage[];
  timer: NodeJS.Timeout;
}

const DEFAULT_UNAVAILABLE_BACKOFF = { initialMs: 500, maxMs: 10_000 };

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
  private pause: Pause | null = null;
  /** Pauses in a row: each lasts twice the one before, up to the most. */
  private pauses = 0;
  private lastResumedMs = 0;
  /** Commands being handled, by idempotency key: a copy that comes meanwhile waits for the first to end. */
  private readonly inFlight = new Map<string, Promise<void>>();

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
      if (msg) void this.handle(channel, msg).catch((err: unknown) => this.lastResort(channel, msg, err));
    });
  }

  private async handle(channel: Channel, msg: ConsumeMessage): Promise<void> {
    if (this.holdWhilePaused(channel, msg)) return;
    let refusal: ReturnType<MessageConsumer['check']>;
    try {
      refusal = this.check(msg);
    } catch (err) {
      // A validator that throws is a bug of ours, and the same message would throw again.
      this.logger.error('message check failed unexpectedly', { err: describeError(err), messageId: msg.properties.messageId });
      refusal = { reason: 'internal', kind: 'unknown', error: internalError('the message could not be checked') };
    }
    if ('reason' in refusal) {
      await this.refuse(channel, msg, refusal);
      return;
    }
    const { kind, body } = refusal;
    const props = msg.properties;
    const messageId = typeof props.messageId === 'string' && props.messageId !== '' ? props.messageId : undefined;
    const userId = typeof props.userId === 'string' ? props.userId : undefined;
    const idempotency = this.options.idempotency;
    const useIdempotency = idempotency !== undefined && messageId !== undefined && idempotency.kinds.has(kind);
    // A message_id is the sender's: another sender reusing it neither gets that reply nor blocks the command.
    const idempotencyKey = messageId === undefined ? undefined : JSON.stringify([userId ?? '', messageId]);
    // Copies delivered side by side (a re-send, a redelivery) are handled one after the other, so the later ones find the reply.
    let release: (() => void) | undefined;
    if (useIdempotency && idempotencyKey !== undefined) {
      for (let running = this.inFlight.get(idempotencyKey); running !== undefined; running = this.inFlight.get(idempotencyKey)) await running;
      this.inFlight.set(idempotencyKey, new Promise<void>((resolve) => (release = resolve)));
    }
    try {
      if (useIdempotency && idempotencyKey !== undefined) {
        const earlier = await idempotency.store.get(idempotencyKey);
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
        userId,
        appId: typeof props.appId === 'string' ? props.appId : undefined,
        redelivered: msg.fields.redelivered,
      };
      const result = await handler(body, context);
      const reply: Reply<unknown> = { ok: true, result: result ?? {} };
      if (useIdempotency && idempotencyKey !== undefined) await idempotency.store.put(idempotencyKey, kind, reply);
      await this.reply(msg, reply);
      channel.ack(msg);
      this.options.metrics?.consumed.inc({ kind });
    } catch (err) {
      await this.onHandlerError(channel, msg, kind, err, useIdempotency ? idempotencyKey : undefined);
    } finally {
      if (release !== undefined && idempotencyKey !== undefined) {
        this.inFlight.delete(idempotencyKey);
        release();
      }
    }
  }

  private check(msg: ConsumeMessage): Refusal | { kind: MessageKind; body: MessageOf<MessageKind> } {
    const declared = msg.properties.type;
    const rawKind = typeof declared === 'string' && declared !== '' ? declared : this.options.kindFromRoutingKey ? msg.fields.routingKey : '';
    const kindLabel = isMessageKind(rawKind) ? rawKind : 'unknown';
    if (msg.content.length > MAX_BODY_BYTES) {
      return refusal('body-too-large', ErrorCodes.validationFailed, `body of ${msg.content.length} bytes exceeds the limit of ${MAX_BODY_BYTES}`, kindLabel);
    }
    const parsed = parseJsonBytes(msg.content);
    if (!parsed.ok) return refusal('invalid-json', ErrorCodes.validationFailed, parsed.problem, kindLabel);
    if (!isMessageKind(rawKind) || !(rawKind in this.options.handlers)) {
      return refusal('unknown-type', ErrorCodes.unknownType, rawKind === '' ? 'message has no type' : `unknown message type '${rawKind}'`, kindLabel);
    }
    const validated = (this.options.validate ?? validateMessage)(rawKind, parsed.value);
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

  private async onHandlerError(channel: Channel, msg: ConsumeMessage, kind: MessageKind, err: unknown, idempotencyKey: string | undefined): Promise<void> {
    if (err instanceof ApplicationError) {
      this.options.metrics?.rejected.inc({ kind, reason: err.code });
      const reply: Reply<unknown> = { ok: false, error: err.toBody() };
      try {
        if (idempotencyKey !== undefined) await this.options.idempotency?.store.put(idempotencyKey, kind, reply);
        await this.reply(msg, reply);
        channel.ack(msg);
      } catch (replyErr) {
        this.logger.warn('could not answer a refused command', { err: String(replyErr) });
        safely(() => channel.nack(msg, false, true));
      }
      return;
    }
    if (err instanceof UnavailableError) {
      this.pauseFor(channel, msg, kind, err);
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

  /** Whatever escaped everything else: logged, and the message leaves the queue, so nothing loops. */
  private lastResort(channel: Channel, msg: ConsumeMessage, err: unknown): void {
    this.logger.error('message handling failed unexpectedly; rejecting the message', { err: describeError(err), messageId: msg.properties.messageId });
    this.options.metrics?.rejected.inc({ kind: 'unknown', reason: 'internal' });
    safely(() => channel.nack(msg, false, false));
  }

  /**
   * A dependency is away: not the message's fault, so it is neither dead-lettered nor answered.
   * It is kept back with every message delivered after it (no handler runs meanwhile), then all
   * go back to the queue in their order after a pause that doubles while the dependency stays away.
   */
  private pauseFor(channel: Channel, msg: ConsumeMessage, kind: MessageKind, err: UnavailableError): void {
    this.options.metrics?.held.inc({ kind });
    if (this.pause?.channel === channel) {
      this.pause.held.push(msg);
      return;
    }
    const backoff = this.options.unavailableBackoff ?? DEFAULT_UNAVAILABLE_BACKOFF;
    // Once consuming has gone on well for a while, the next outage starts again from the shortest pause.
    if (Date.now() - this.lastResumedMs > 2 * backoff.maxMs) this.pauses = 0;
    const delayMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** this.pauses);
    this.pauses += 1;
    this.logger.warn('a dependency is unavailable: messages wait in the queue', { kind, dependency: err.dependency, err: err.message, retryInMs: delayMs });
    const pause: Pause = { channel, held: [msg], timer: setTimeout(() => this.resume(pause), delayMs) };
    pause.timer.unref();
    this.pause = pause;
  }

  private holdWhilePaused(channel: Channel, msg: ConsumeMessage): boolean {
    if (this.pause?.channel !== channel) return false;
    this.pause.held.push(msg);
    return true;
  }

  /** Lets the held messages go back to the queue: the broker delivers them again, in their order. */
  private resume(pause: Pause): void {
    // A pause on a channel that has since closed (the broker took its messages back) does not end a newer one.
    if (this.pause === pause) this.pause = null;
    this.lastResumedMs = Date.now();
    this.logger.info('trying again the messages held while a dependency was away', { held: pause.held.length });
    for (const held of pause.held) safely(() => pause.channel.nack(held, false, true));
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
        [Headers.error]: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason,
        'x-pf9-original-exchange': msg.fields.exchange,
        'x-pf9-original-routing-key': msg.fields.routingKey,
        'x-pf9-queue': this.options.queue,
      },
    });
  }

  private async reply(msg: ConsumeMessage, reply: Reply<unknown>): Promise<void> {
    const replyTo = msg.properties.replyTo;
    if (typeof replyTo !== 'string' || replyTo === '') return;
    // The plane's own queues are never a reply address: a sender could not otherwise make us publish into them.
    if (replyTo.startsWith('pf9.')) {
      this.logger.warn('reply_to names one of our own queues: no reply sent', { replyTo, messageId: msg.properties.messageId });
      return;
    }
    await this.connection.publish('', replyTo, 'reply', reply, {
      correlationId: typeof msg.properties.correlationId === 'string' ? msg.properties.correlationId : undefined,
      persistent: false,
    });
  }
}

/** How much of a refusal reason the x-pf9-error header carries (headers must fit one frame). */
const MAX_REASON_CHARS = 2048;

function describeError(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
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
