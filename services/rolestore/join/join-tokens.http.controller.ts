import { Body, Controller, Header, Post } from '@nestjs/common';
import { JoinTokenCreateRequest, type JoinTokenView } from '#contracts';
import { bodyOf } from '../http/contract-validation';
import { Audited } from '../operators/audited.decorator';
import { Roles } from '../operators/roles.decorator';
import { JoinTokensService } from './join-tokens.service';

/** Operators create join tokens here. */
@Controller('v1/join-tokens')
export class JoinTokensHttpController {
  constructor(private readonly tokens: JoinTokensService) {}

  @Post()
  @Roles('operator')
  @Audited('join-token.create')
  @Header('cache-control', 'no-store')
  create(@Body() body: unknown): Promise<JoinTokenView> {
    return this.tokens.create(bodyOf(JoinTokenCreateRequest, body));
  }
}
