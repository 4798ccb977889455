import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { RolestoreConfig } from '../config/rolestore.config';
import { HostsModule } from '../hosts/hosts.module';
import { AuditHttpController } from './audit.http.controller';
import { AuditInterceptor } from './audit.interceptor';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { BrokerPrincipals } from './operator-access';
import { OperatorGuard } from './operator.guard';
import { OperatorTokensRepository } from './operator-tokens.repository';
import { OperatorTokensService } from './operator-tokens.service';
import { TokenReviewAmqpController } from './token-review.amqp.controller';
import { TokenReviewService } from './token-review.service';
import { TokensHttpController } from './tokens.http.controller';
import { UnprovenRefusals } from './unproven-refusals';

/**
 * Who may do what, and the record of it, for both transports at once (CONTRACT.md section 8):
 * operator tokens, the broker users' roles on pf9.api, the global guard and audit interceptor
 * (by their classes too, so that they can be looked up), the audit log, and the review of
 * operator tokens that pf9-bouncer asks for. A plane with no usable admin token makes one as
 * it starts (the first admin).
 */
@Module({
  imports: [HostsModule],
  controllers: [TokensHttpController, AuditHttpController, TokenReviewAmqpController],
  providers: [
    OperatorTokensRepository,
    OperatorTokensService,
    AuditRepository,
    AuditService,
    TokenReviewService,
    UnprovenRefusals,
    {
      provide: BrokerPrincipals,
      inject: [RolestoreConfig],
      useFactory: (config: RolestoreConfig) => new BrokerPrincipals(config.operatorBrokerUsers, config.apiAnonymousRole),
    },
    OperatorGuard,
    AuditInterceptor,
    { provide: APP_GUARD, useExisting: OperatorGuard },
    { provide: APP_INTERCEPTOR, useExisting: AuditInterceptor },
  ],
  exports: [OperatorTokensService],
})
export class OperatorsModule implements OnApplicationBootstrap {
  /** The admin token made at this start, if the plane had none (the tests and the all-in-one read it from the file as well). */
  firstAdminToken: string | null = null;

  constructor(
    private readonly tokens: OperatorTokensService,
    private readonly config: RolestoreConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.firstAdminToken = await this.tokens.ensureFirstAdmin(this.config.dataDir);
  }
}
