import type { Logger } from './logger';

/**
 * The last line of defence of a long-running service: a promise that rejects with no one
 * listening is a bug of ours, but it must not take down a process that serves every host.
 * It is logged with its stack (and counted by whoever passes `onRejection`), never fatal.
 */
export function guardUnhandledRejections(logger: Logger, onRejection?: () => void): void {
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error('unhandled promise rejection (a bug: please report it); the service goes on', {
      err: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
    onRejection?.();
  });
}
