import { Module } from '@nestjs/common';
import { MessagingModule } from '../messaging/messaging.module';
import { OpsHttpController } from './ops.http.controller';

/** GET /metrics and GET /healthz. */
@Module({
  imports: [MessagingModule],
  controllers: [OpsHttpController],
})
export class OpsModule {}
