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

/** The broker routed a request to no queue: nothing would ever answer it. */
export class UnroutableError extends Error {
  constructor(routingKey: string) {
    super(`no queue takes ${routingKey}`);
    this.name = 'UnroutableError';
  }
}

export function internalError(message = 'internal error'): ErrorBody {
  return { code: ErrorCodes.internal, message, details: [] };
}
