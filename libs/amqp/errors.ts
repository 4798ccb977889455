import { ErrorCodes, type ErrorBody, type ErrorCode } from '#contracts';

/** An error whose code and message are meant for the caller (an error reply or an HTTP error). */
export class ApplicationError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
    this.name = 'ApplicationError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export class NotConnectedError extends Error {
  constructor(what = 'broker') {
    super(`not connected to the ${what}`);
    this.name = 'NotConnectedError';
  }
}

/** A request got no reply in time. */
export class RequestTimeoutError extends Error {
  constructor(kind: string, timeoutMs: number) {
    super(`no reply to ${kind} within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/**
 * A dependency (the database, a management API) is away for now: not the message's fault.
 * The consumer keeps the message (requeued, consuming paused with backoff) instead of
 * dead-lettering it; the REST layer answers 503.
 */
export class UnavailableError extends Error {
  constructor(
    readonly dependency: string,
    message = `the ${dependency} is unavailable; try again later`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

/** The broker took a mandatory message but no queue is bound for it: it was not delivered anywhere. */
export class UnroutableError extends Error {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
  ) {
    super(`no queue takes messages on ${exchange} with routing key ${routingKey}`);
    this.name = 'UnroutableError';
  }
}

export function internalError(message = 'internal error'): ErrorBody {
  return { code: ErrorCodes.internal, message, details: [] };
}
