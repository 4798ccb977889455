import { Controller, UseGuards } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { TOKEN_REVIEW, TokenReviewRequest, type TokenReviewResult } from '#contracts';
import type { MessageContext } from '#amqp';
import { HostSenderGuard } from '../ingest/host-sender.guard';
import { TokenReviewService } from './token-review.service';

/**
 * pf9-bouncer on a master node asks whether a bearer token is one of the plane's operator
 * tokens, through its host's tunnel, as its host (HostSenderGuard: the broker-validated
 * user_id and the routing key must name the host the body names). Its own queue: not durable,
 * no dead letters, never copied to pf9.dlx (rolestore.consumers.ts), since the body holds a token.
 */
@Controller()
@UseGuards(HostSenderGuard)
export class TokenReviewAmqpController {
  constructor(private readonly reviews: TokenReviewService) {}

  @MessagePattern(TOKEN_REVIEW)
  review(@Payload() request: TokenReviewRequest, @Ctx() _context: MessageContext): Promise<TokenReviewResult> {
    return this.reviews.review(request);
  }
}
