import { Module } from '@nestjs/common';
import { AmqpConnection } from '#amqp';
import { Logger } from '#logging';
import { RolestoreConfig } from '../config/rolestore.config';
import { Clock } from '../core/clock';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { AmqpTransport } from './amqp.transport';
import { MessagingLifecycle } from './messaging.lifecycle';
import { ProcessedMessagesRepository } from './processed-messages.repository';
import { rolestoreConsumers } from './rolestore.consumers';

/** The broker: one connection for what the role store sends and receives, and the transport that serves the *.amqp.controller handlers. */
@Module({
  providers: [
    ProcessedMessagesRepository,
    MessagingLifecycle,
    {
      provide: AmqpConnection,
      inject: [RolestoreConfig, Logger, RolestoreMetrics],
      // user_id on everything it sends, validated by the broker: hosts act on control messages of this user only.
      useFactory: (config: RolestoreConfig, logger: Logger, metrics: RolestoreMetrics) =>
        new AmqpConnection({ url: config.amqpUrl, appId: 'rolestore', logger, metrics: metrics.amqp, userId: config.planeBrokerUser }),
    },
    {
      provide: AmqpTransport,
      inject: [AmqpConnection, ProcessedMessagesRepository, RolestoreMetrics, Clock, Logger],
      useFactory: (connection: AmqpConnection, processed: ProcessedMessagesRepository, metrics: RolestoreMetrics, clock: Clock, logger: Logger) =>
        new AmqpTransport(connection, rolestoreConsumers(processed, metrics, () => clock.now()), logger),
    },
  ],
  exports: [AmqpConnection, AmqpTransport],
})
export class MessagingModule {}
