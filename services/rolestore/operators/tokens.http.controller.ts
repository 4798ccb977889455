import { Body, Controller, Delete, Get, Header, Param, Post } from '@nestjs/common';
import { OperatorTokenCreateRequest, type OperatorTokenCreatedView, type OperatorTokenView } from '#contracts';
import { bodyOf } from '../http/contract-validation';
import { Audited } from './audited.decorator';
import { actorOf, OperatorTokensService, type Principal } from './operator-tokens.service';
import { Operator } from './request-principal';
import { Roles } from './roles.decorator';

/** Operator tokens (CONTRACT.md section 8): admins only. */
@Controller('v1/tokens')
@Roles('admin')
export class TokensHttpController {
  constructor(private readonly tokens: OperatorTokensService) {}

  @Post()
  @Audited('token.create')
  @Header('cache-control', 'no-store')
  create(@Body() body: unknown, @Operator() operator: Principal): Promise<OperatorTokenCreatedView> {
    return this.tokens.create(bodyOf(OperatorTokenCreateRequest, body), actorOf(operator));
  }

  @Get()
  list(): Promise<OperatorTokenView[]> {
    return this.tokens.list();
  }

  @Delete(':id')
  @Audited('token.revoke')
  revoke(@Param('id') id: string): Promise<OperatorTokenView> {
    return this.tokens.revoke(id);
  }
}
