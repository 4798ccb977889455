import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request } from 'express';
import { join } from 'node:path';
import { Logger, NestJsonLogger, parseLogLevel } from '#logging';
import { loadRolestoreConfig, type Environment, type RolestoreConfig } from './config/rolestore.config';
import { openDatabase } from './database/open-database';
import { JoinHttpListener } from './join/join.http-listener';
import { HostPackagesHttpListener } from './roles/host-packages.http-listener';
import { JoinService } from './join/join.service';
import { RolestoreModule } from './rolestore.module';
import { AmqpConnection } from '#amqp';
import { AmqpTransport } from './messaging/amqp.transport';
import { resolveHostBrokerUsers } from './broker-users/broker-identity';
import { RabbitMqManagementClient } from './broker-users/rabbitmq-management.client';
import { mediaTypeOf, requestGate } from './http/request-gate';
import { authenticateBeforeBody, bodyMayBeRead } from './operators/authenticate-before-body';
import { OperatorsModule } from './operators/operators.module';
import { ADMIN_TOKEN_FILE, OperatorTokensService } from './operators/operator-tokens.service';

export interface RunningRolestore {
  app: NestExpressApplication;
  config: RolestoreConfig;
  /** The base URL the REST API answers on. */
  url: string;
  /** The base URL of the registration listener (POST /v1/join). */
  joinUrl: string;
  /** The base URL of what hosts fetch (role packages): the ingress's `pf9-http` route. */
  hostApiUrl: string;
  /** An admin token: the one made at this start, else the one in <PF9_DATA_DIR>/admin.token; null when neither. */
  adminToken: string | null;
  close(): Promise<void>;
}

/**
 * Boots the role store: config, database (migrated), and one Nest application serving the
 * REST API and, as a hybrid application, the broker's queues (AmqpTransport); then the two
 * listeners of its own (registration, host packages).
 */
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
  // Before anything reads a request: the Host it names and the type of its body (request-gate.ts).
  app.use(requestGate({ hostnames: config.apiHostnames }));
  // Then the token, before any body is read (authenticate-before-body.ts).
  app.use(authenticateBeforeBody(app.get(OperatorTokensService)));
  // JSON bodies arrive as bytes and are parsed by the contract's own rules (bodyOf), not body-parser's;
  // a compressed body is refused (415), never inflated.
  const typed = (types: readonly string[]) => (req: IncomingMessage) => bodyMayBeRead(req as Request) && types.includes(mediaTypeOf(req as Request));
  app.useBodyParser('raw', { type: typed(['application/json']), limit: '1mb', inflate: false });
  app.useBodyParser('raw', { type: typed(['application/gzip', 'application/x-gzip', 'application/octet-stream']), limit: config.maxPackageBytes, inflate: false });
  app.enableShutdownHooks();
  // The application's global guard, interceptor and filter serve the AMQP handlers too.
  app.connectMicroservice({ strategy: app.get(AmqpTransport) }, { inheritAppConfig: true });
  await app.listen(config.apiPort, config.apiHost);
  let joinUrl: string;
  let hostApiUrl: string;
  try {
    // The consumers start once the application is up.
    await app.startAllMicroservices();
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
  const adminToken = app.get(OperatorsModule).firstAdminToken ?? (await readAdminTokenFile(config.dataDir));
  return { app, config, url, joinUrl, hostApiUrl, adminToken, close: () => app.close() };
}

async function readAdminTokenFile(dataDir: string): Promise<string | null> {
  try {
    return (await readFile(join(dataDir, ADMIN_TOKEN_FILE), 'utf8')).split('\n')[0]!.trim() || null;
  } catch {
    return null;
  }
}
