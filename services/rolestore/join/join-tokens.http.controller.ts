import { Body, Controller, Header, Post } from '@nestjs/common';
import { JoinTokenCreateRequest, type JoinTokenView } from '#contracts';
import { bodyOf } from '../http/contract-validation';
import { JoinTokensService } from './join-tokens.service';

/** Operators create join tokens here (behind the global operator guard like every route). */
@Controller('v1/join-tokens')
export class JoinTokensHttpController {
  constructor(private readonly tokens: JoinTokensService) {}

  @Post()
  @Header('cache-control', 'no-store')
  create(@Body() body: unknown): Promise<JoinTokenView> {
    return this.tokens.create(bodyOf(JoinTokenCreateRequest, body));
  }
}
