// Broker plumbing shared by every service: a self-healing connection with publisher
// confirms, the exchanges of the contract, the one consumer pipeline, and RPC.
export { AmqpConnection, redactUrl } from './amqp-connection';
export type { AmqpConnectionOptions, PublishOptions, SetupHook } from './amqp-connection';
export { MessageConsumer } from './consumer';
export type { ConsumerOptions, HandlerMap, MessageContext, MessageHandler } from './consumer';
export { RpcClient } from './rpc-client';
export type { RequestOptions } from './rpc-client';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export type { BackoffOptions } from './backoff';
export { declareExchanges, declareHostQueue, declareQueue, QUEUE_ARGUMENTS } from './topology';
export type { QueueBinding } from './topology';
export { ApplicationError, NotConnectedError, RequestTimeoutError, UnavailableError, UnroutableError } from './errors';
export { MemoryIdempotencyStore } from './idempotency';
export type { IdempotencyStore } from './idempotency';
export { createAmqpMetrics } from './amqp-metrics';
export type { AmqpMetrics } from './amqp-metrics';
export { readHostBrokerUser, withBrokerUser } from './host-broker-user';
export type { HostBrokerUser } from './host-broker-user';
