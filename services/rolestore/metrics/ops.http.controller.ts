import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AmqpConnection } from '#amqp';
import { Database } from '../database/database';
import { Public } from '../operators/roles.decorator';
import { RolestoreMetrics } from './rolestore.metrics';

/** A health check that waited for a hanging database would hang its caller too. */
const HEALTH_PING_TIMEOUT_MS = 2000;

@Controller()
export class OpsHttpController {
  constructor(
    private readonly metrics: RolestoreMetrics,
    private readonly connection: AmqpConnection,
    private readonly db: Database,
  ) {}

  @Get('metrics')
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  /** 200 when both the database and the broker answer; 503 naming the part that does not, within a few seconds either way. */
  @Get('healthz')
  @Public()
  async health(@Res({ passthrough: true }) res: Response): Promise<{ status: string; database: string; broker: string }> {
    const database = await this.db.ping(HEALTH_PING_TIMEOUT_MS).then(
      () => true,
      () => false,
    );
    const broker = this.connection.isConnected();
    res.status(database && broker ? 200 : 503);
    return { status: database && broker ? 'ok' : 'unavailable', database: database ? 'ok' : 'down', broker: broker ? 'ok' : 'down' };
  }
}
