import { Injectable } from '@nestjs/common';
import { ErrorCodes, type TokenReviewRequest, type TokenReviewResult } from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { HostsRepository } from '../hosts/hosts.repository';
import { OperatorTokensService } from './operator-tokens.service';

/** The plane's answer to pf9-bouncer: only an authorized host is told anything about a token. */
@Injectable()
export class TokenReviewService {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly tokens: OperatorTokensService,
    private readonly logger: Logger,
  ) {}

  async review(request: TokenReviewRequest): Promise<TokenReviewResult> {
    const host = await this.hosts.find(request.hostId);
    if (host === null || host.state !== 'authorized') {
      throw new ApplicationError(ErrorCodes.hostNotAuthorized, `host ${request.hostId} is not authorized: it may not review tokens`);
    }
    const result = await this.tokens.review(request.token);
    // Never the token: who asked, and the answer.
    this.logger.info('token reviewed', { hostId: request.hostId, authenticated: result.authenticated, username: result.authenticated ? result.user.username : undefined });
    return result;
  }
}
