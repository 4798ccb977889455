import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCodes, type ErrorCode, type HttpErrorView } from '#contracts';
import { ApplicationError, UnavailableError } from '#amqp';
import type { Logger } from '#logging';

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

/** Every error leaves as {"error":{"code","message","details"}} (CONTRACT.md section 5). */
@Catch()
export class ContractErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = toHttpError(exception);
    if (exception instanceof UnavailableError) {
      this.logger.warn('request refused: a dependency is unavailable', { dependency: exception.dependency, err: exception.message });
      response.setHeader('retry-after', String(RETRY_AFTER_S));
    } else if (status >= 500) this.logger.error('request failed', { err: exception instanceof Error ? exception.stack : String(exception) });
    response.status(status).json(body);
  }
}

/** What a client is told to wait before trying again while the database is away. */
const RETRY_AFTER_S = 5;

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
    const code: ErrorCode = status === 404 ? ErrorCodes.notFound : status === 403 ? ErrorCodes.forbidden : status >= 500 ? ErrorCodes.internal : ErrorCodes.validationFailed;
    return { status, body: { error: { code, message: exception.message, details: [] } } };
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
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || type === 'request.aborted') {
    return { status: 400, body: { error: { code: ErrorCodes.validationFailed, message: String((exception as { message?: unknown }).message), details: [] } } };
  }
  return null;
}
