import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { Logger, NestJsonLogger, parseLogLevel } from '#logging';
import { loadRolestoreConfig, type Environment, type RolestoreConfig } from './config/rolestore.config';
import { openDatabase } from './database/open-database';
import { JoinHttpListener } from './join/join.http-listener';
import { HostPackagesHttpListener } from './roles/host-packages.http-listener';
import { JoinService } from './join/join.service';
import { RolestoreModule } from './rolestore.module';
import { AmqpConnection } from '#amqp';
import { resolveHostBrokerUsers } from './broker-users/broker-identity';
import { RabbitMqManagementClient } from './broker-users/rabbitmq-management.client';

export interface RunningRolestore {
  app: NestExpressApplication;
  config: RolestoreConfig;
  /** The base URL the REST API answers on. */
  url: string;
  /** The base URL of the registration listener (POST /v1/join). */
  joinUrl: string;
  /** The base URL of what hosts fetch (role packages): the ingress's `pf9-http` route. */
  hostApiUrl: string;
  close(): Promise<void>;
}

/** Boots the role store: config, database (migrated), HTTP API and broker consumers. */
export async function startRolestore(env: Environment, options: { waitForBrokerMs?: number } = {}): Promise<RunningRolestore> {
  const config = loadRolestoreConfig(env);
  const logger = new Logger('rolestore', parseLogLevel(config.logLevel));
  const managementAnswers = async (): Promise<void> => void (await new RabbitMqManagementClient(config.brokerManagementUrl, { vhost: config.brokerVhost, timeoutMs: 5_000 }).overview());
  config.hostBrokerUsers = (await resolveHostBrokerUsers(config.hostBrokerUsers, managementAnswers, logger)) ? 'on' : 'off';
  const db = await openDatabase(config.databaseUrl, { timeoutMs: config.databaseTimeoutS * 1000 });
  const app = await NestFactory.create<NestExpressApplication>(RolestoreModule.forRoot(config, logger, db), {
    logger: new NestJsonLogger(logger.child({ component: 'nest' })),
    bodyParser: false,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  // JSON bodies arrive as bytes and are parsed by the contract's own rules (bodyOf), not body-parser's.
  app.useBodyParser('raw', { type: 'application/json', limit: '1mb' });
  app.useBodyParser('raw', { type: ['application/gzip', 'application/x-gzip', 'application/octet-stream'], limit: config.maxPackageBytes });
  app.enableShutdownHooks();
  await app.listen(config.apiPort, config.apiHost);
  let joinUrl: string;
  let hostApiUrl: string;
  try {
    joinUrl = await app.get(JoinHttpListener).listen(config.joinPort, config.joinHost);
    hostApiUrl = await app.get(HostPackagesHttpListener).listen(config.hostApiPort, config.hostApiHost);
    // The ingress's list of revoked host certificates, written again from the database.
    await app.get(JoinService).publishRevocations();
  } catch (err) {
    await app.close();
    throw err;
  }
  if (options.waitForBrokerMs !== undefined) await app.get(AmqpConnection).ready(options.waitForBrokerMs);
  const address = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.apiHost}:${address.port}`;
  logger.info('role store listening', { url, joinUrl, hostApiUrl });
  return { app, config, url, joinUrl, hostApiUrl, close: () => app.close() };
}
