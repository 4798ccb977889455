import { Server, type CustomTransportStrategy, type MessageHandler as NestMessageHandler } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { MessageKind } from '#contracts';
import { MessageConsumer, type AmqpConnection, type ConsumerOptions, type HandlerMap, type MessageContext } from '#amqp';
import type { Logger } from '#logging';

/** One queue the transport consumes: the pipeline's options, and the message kinds it takes there. */
export type AmqpConsumerDefinition = Omit<ConsumerOptions, 'handlers' | 'logger'> & {
  /** Each is served by the @MessagePattern or @EventPattern handler Nest registered for it; any other kind is UNKNOWN_TYPE here. */
  kinds: readonly MessageKind[];
};

/**
 * The role store's @nestjs/microservices transport: Nest's handlers (guards, interceptors,
 * pipes and the exception filter around them) behind libs/amqp's consumer pipeline, which
 * keeps its whole policy (size limit, JSON, kind, validation, dead letters with the reason,
 * idempotent replies, holding messages while a dependency is away, ack and retry). The wire
 * stays the contract's: the handler gets the validated body as its payload (@Payload) and
 * the pipeline's MessageContext as its context (@Ctx), and what it answers is the reply's
 * result; there is no {pattern, data} envelope on either side. An error keeps its identity
 * on the way back (the exception filter rethrows it), so that the pipeline answers an
 * ApplicationError with its code and holds the message on an UnavailableError.
 */
export class AmqpTransport extends Server implements CustomTransportStrategy {
  constructor(
    private readonly connection: AmqpConnection,
    private readonly definitions: readonly AmqpConsumerDefinition[],
    /** The consumers' (Server's own `logger` is Nest's). */
    private readonly pipelineLogger: Logger,
  ) {
    super();
  }

  /**
   * Starts a consumer per definition, then the connection (consumers are set up again on every
   * reconnect). A kind without a handler is a programming error: the start fails and says which.
   */
  listen(callback: (err?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  /** Closes the connection: consumers stop, and the broker gives what was not acked to the next consumer. */
  async close(): Promise<void> {
    await this.connection.close();
  }

  on(): never {
    throw new Error('AmqpTransport has no events to listen to: the broker connection reports its own (AmqpConnection)');
  }

  unwrap<T>(): T {
    return this.connection as T;
  }

  private async start(): Promise<void> {
    // Every kind has its handler before any consumer starts.
    const consumers = this.definitions.map(({ kinds, ...options }) => new MessageConsumer(this.connection, { ...options, handlers: this.handlersFor(kinds, options.queue), logger: this.pipelineLogger }));
    for (const consumer of consumers) await consumer.start();
    this.connection.start();
  }

  private handlersFor(kinds: readonly MessageKind[], queue: string): HandlerMap {
    const handlers: Partial<Record<MessageKind, (message: unknown, context: MessageContext) => Promise<unknown>>> = {};
    for (const kind of kinds) {
      const handler = this.getHandlerByPattern(kind);
      if (handler === null) throw new Error(`no @MessagePattern or @EventPattern handler for ${kind} (queue ${queue})`);
      if (handler.next !== undefined) throw new Error(`more than one @EventPattern handler for ${kind}: one handler answers each kind`);
      handlers[kind] = (message, context) => this.invoke(handler, message, context);
    }
    return handlers as HandlerMap;
  }

  /** Nest's handler answers a promise or an Observable (interceptors): its last value is the result; an error rejects as itself. */
  private async invoke(handler: NestMessageHandler, message: unknown, context: MessageContext): Promise<unknown> {
    return lastValueFrom(this.transformToObservable(await handler(message, context)), { defaultValue: undefined });
  }
}
