import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger, NestJsonLogger, parseLogLevel } from '#logging';
import { loadHostagentConfig } from './config/hostagent.config';
import { loadOrCreateHostId } from './host-identity';
import { HostagentModule } from './hostagent.module';
import { HostagentRuntime } from './hostagent.runtime';

export interface RunningHostagent {
  runtime: HostagentRuntime;
  hostId: string;
  /** Where /metrics and /healthz answer. */
  url: string;
  close(): Promise<void>;
}

export async function startHostagent(env: Record<string, string | undefined>): Promise<RunningHostagent> {
  const config = loadHostagentConfig(env);
  const hostId = await loadOrCreateHostId(config.root);
  const logger = new Logger('hostagent', parseLogLevel(config.logLevel)).child({ hostId });
  const runtime = new HostagentRuntime(config, hostId, logger, env);
  const app = await NestFactory.create<NestExpressApplication>(HostagentModule.forRoot(runtime), {
    logger: new NestJsonLogger(logger.child({ component: 'nest' })),
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  await app.listen(config.metricsPort, config.metricsHost);
  const address = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.metricsHost}:${address.port}`;
  logger.info('host agent running', { root: config.root, api: config.apiUrl, metrics: url });
  return { runtime, hostId, url, close: () => app.close() };
}
