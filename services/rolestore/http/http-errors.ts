import { HttpException } from '@nestjs/common';
import { ErrorCodes, type ErrorCode, type HttpErrorView } from '#contracts';
import { ApplicationError, UnavailableError } from '#amqp';

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNKNOWN_TYPE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  HOST_NOT_AUTHORIZED: 409,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  INTERNAL: 500,
};

/** The contract's code for an HTTP status that Nest (a route not found, a guard's refusal) or a library chose. */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return ErrorCodes.unauthenticated;
  if (status === 403) return ErrorCodes.forbidden;
  if (status === 404) return ErrorCodes.notFound;
  if (status === 409) return ErrorCodes.conflict;
  return status >= 500 ? ErrorCodes.internal : ErrorCodes.validationFailed;
}

/** Every error leaves as {"error":{"code","message","details"}} (CONTRACT.md section 5), with its status. */
export function toHttpError(exception: unknown): { status: number; body: HttpErrorView } {
  if (exception instanceof ApplicationError) {
    return { status: STATUS_BY_CODE[exception.code], body: { error: exception.toBody() } };
  }
  // Not the request's fault and not a bug: the contract has no code for it, so INTERNAL, with 503 saying "try again".
  if (exception instanceof UnavailableError) {
    return { status: 503, body: { error: { code: ErrorCodes.internal, message: exception.message, details: [] } } };
  }
  const parserError = bodyParserError(exception);
  if (parserError) return parserError;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return { status, body: { error: { code: codeOfStatus(status), message: exception.message, details: [] } } };
  }
  return { status: 500, body: { error: { code: ErrorCodes.internal, message: 'internal error', details: [] } } };
}

/** body-parser's own errors (malformed JSON, too large) carry `type` and `status`. */
function bodyParserError(exception: unknown): { status: number; body: HttpErrorView } | null {
  if (typeof exception !== 'object' || exception === null || !('type' in exception)) return null;
  const type = (exception as { type: unknown }).type;
  if (type === 'entity.parse.failed') {
    return { status: 400, body: { error: { code: ErrorCodes.validationFailed, message: 'body is not valid JSON', details: [] } } };
  }
  if (type === 'entity.too.large') {
    return { status: 413, body: { error: { code: ErrorCodes.validationFailed, message: 'body is too large', details: [] } } };
  }
  if (type === 'encoding.unsupported') {
    return { status: 415, body: { error: { code: ErrorCodes.validationFailed, message: 'a compressed body (Content-Encoding) is not taken: send it as it is', details: [] } } };
  }
  if (type === 'charset.unsupported' || type === 'request.aborted') {
    return { status: 400, body: { error: { code: ErrorCodes.validationFailed, message: String((exception as { message?: unknown }).message), details: [] } } };
  }
  // Any other refusal of the body by the parser is the request's fault, never a 500.
  const status = (exception as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { error: { code: ErrorCodes.validationFailed, message: 'the body could not be read', details: [] } } };
  }
  return null;
}
