export { Logger, parseLogLevel } from './logger';
export type { LogLevel, LogFields, LogSink } from './logger';
export { NestJsonLogger } from './nest-logger';
export { guardUnhandledRejections } from './process-guards';
