import { Catch, HttpException, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { FORBIDDEN_MESSAGE } from '@nestjs/core/guards/constants';
import { RpcException } from '@nestjs/microservices';
import type { Response } from 'express';
import { throwError, type Observable } from 'rxjs';
import { ErrorCodes } from '#contracts';
import { ApplicationError, UnavailableError } from '#amqp';
import { Logger } from '#logging';
import { codeOfStatus, toHttpError } from '../http/http-errors';

/** What a client is told to wait before trying again while the database is away. */
const RETRY_AFTER_S = 5;

/**
 * The one exception filter, for both transports. HTTP: every error leaves as
 * {"error":{"code","message","details"}} (CONTRACT.md section 5). AMQP: the error goes back
 * to the consumer pipeline as itself (Nest's own RPC filter would turn it into
 * {status, message}), so that an ApplicationError is answered with its code, an
 * UnavailableError holds the message, and anything else is retried, then dead-lettered.
 */
@Catch()
@Injectable()
export class ContractErrorFilter implements ExceptionFilter {
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger.child({ component: 'http' });
  }

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'rpc') return throwError(() => asPipelineError(exception));
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = toHttpError(exception);
    if (exception instanceof UnavailableError) {
      this.logger.warn('request refused: a dependency is unavailable', { dependency: exception.dependency, err: exception.message });
      response.setHeader('retry-after', String(RETRY_AFTER_S));
    } else if (status >= 500) this.logger.error('request failed', { err: exception instanceof Error ? exception.stack : String(exception) });
    response.status(status).json(body);
  }
}

/**
 * What Nest itself throws in an RPC context, in the contract's terms: a guard that answers
 * false (RpcException "Forbidden resource") is FORBIDDEN, and an HttpException (such as
 * UnauthorizedException) has the code its status has over REST. The rest is left as it is.
 */
export function asPipelineError(exception: unknown): unknown {
  if (exception instanceof RpcException && exception.getError() === FORBIDDEN_MESSAGE) {
    return new ApplicationError(ErrorCodes.forbidden, 'forbidden');
  }
  if (exception instanceof HttpException && exception.getStatus() < 500) {
    return new ApplicationError(codeOfStatus(exception.getStatus()), exception.message);
  }
  return exception;
}
