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

export function internalError(message = 'internal error'): ErrorBody {
  return { code: ErrorCodes.internal, message, details: [] };
}
