import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Logger } from '#logging';
import { RolestoreConfig } from '../config/rolestore.config';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { Clock } from './clock';
import { ContractErrorFilter } from './contract-error.filter';

/**
 * What every feature module uses, by its type: the validated configuration, the logger, the
 * clock and the metrics registry; and the one exception filter of both transports.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: RolestoreConfig, logger: Logger): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: RolestoreConfig, useValue: config },
        { provide: Logger, useValue: logger },
        Clock,
        RolestoreMetrics,
        { provide: APP_FILTER, useClass: ContractErrorFilter },
      ],
      exports: [RolestoreConfig, Logger, Clock, RolestoreMetrics],
    };
  }
}
