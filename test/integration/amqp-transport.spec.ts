import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Controller, HttpCode, Injectable, Module, Param, Post, UnauthorizedException, type CallHandler, type CanActivate, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, NestFactory, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { AddressInfo } from 'node:net';
import { of, type Observable } from 'rxjs';
import { ErrorCodes, Exchanges, HOST_AUTHORIZE, HOST_DEAUTHORIZE, ROLE_ASSIGN, ROLE_UNASSIGN, TOKEN_REVIEW, type HostAuthorizeCommand } from '#contracts';
import { AmqpConnection, ApplicationError, UnavailableError } from '#amqp';
import { Logger } from '#logging';
import { HostAccessService } from '../../services/rolestore/broker-users/host-access.service';
import { loadRolestoreConfig } from '../../services/rolestore/config/rolestore.config';
import { ContractErrorFilter } from '../../services/rolestore/core/contract-error.filter';
import { Database } from '../../services/rolestore/database/database';
import { HeartbeatIngester } from '../../services/rolestore/ingest/heartbeat.ingester';
import { AmqpTransport } from '../../services/rolestore/messaging/amqp.transport';
import { AuditInterceptor } from '../../services/rolestore/operators/audit.interceptor';
import { AUDITED_KEY } from '../../services/rolestore/operators/audited.decorator';
import { OperatorGuard } from '../../services/rolestore/operators/operator.guard';
import { PUBLIC_KEY, ROLES_KEY } from '../../services/rolestore/operators/roles.decorator';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';
import { planeFetch } from '../support/operator-auth';

const quiet = new Logger('amqp-transport-test', 'error', { write: () => undefined });

/**
 * Whether anything matching came to `capture` by the time a marker published after it does:
 * what the role store dead-letters is confirmed by the broker before it answers, so once the
 * answer is in, a copy would already be queued ahead of the marker.
 */
async function receivedBeforeMarker(raw: RawAmqp, capture: Capture, match: (headers: Record<string, unknown>, body: unknown) => boolean): Promise<boolean> {
  const marker = randomUUID();
  await raw.publish(Exchanges.deadLetter, '', { marker }, { messageId: marker });
  await capture.next((m) => m.properties.messageId === marker);
  return capture.messages.some((m) => m.properties.messageId !== marker && match(m.properties.headers ?? {}, m.body));
}

describe('the role store over its AMQP transport: the contract on the wire, one guard and one interceptor for both transports', () => {
  let rs: RunningRolestore;
  let raw: RawAmqp;
  let guard: OperatorGuard;
  let interceptor: AuditInterceptor;
  /** What the global guard and interceptor saw, in order. */
  let seen: Array<{ by: 'guard' | 'interceptor'; transport: string; needs?: string; action?: string }> = [];
  /** The guard's answer while set (a refusal under test); otherwise every call passes. */
  let refuse: ((context: ExecutionContext) => boolean) | null = null;

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    // Hosts here are raw clients on the broker user they share with the plane (insecure).
    rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: await tempDir('transport'), PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
    // The instances registered as the application's guard and interceptor record what they are asked, whatever they decide.
    const reflector = rs.app.get(Reflector);
    guard = rs.app.get(OperatorGuard);
    interceptor = rs.app.get(AuditInterceptor);
    const needs = (context: ExecutionContext): string | undefined => {
      const targets = [context.getHandler(), context.getClass()];
      return reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true ? 'public' : reflector.getAllAndOverride<string | undefined>(ROLES_KEY, targets);
    };
    Object.assign(guard, {
      canActivate: (context: ExecutionContext): boolean => {
        seen.push({ by: 'guard', transport: context.getType(), needs: needs(context) });
        return refuse === null ? true : refuse(context);
      },
    });
    Object.assign(interceptor, {
      intercept: (context: ExecutionContext, next: CallHandler): Observable<unknown> => {
        seen.push({ by: 'interceptor', transport: context.getType(), action: reflector.get<string | undefined>(AUDITED_KEY, context.getHandler()) });
        return next.handle();
      },
    });
  });

  after(async () => {
    await rs?.close();
    await raw?.close();
  });

  async function knownHost(): Promise<string> {
    const hostId = newHostId();
    await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat' });
    await waitFor('the host', async () => (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).ok);
    return hostId;
  }

  const command = (kind: string, body: object) => raw.request(kind, body, { type: kind, messageId: randomUUID() });

  test('a raw amqplib command gets the contract\'s reply and nothing else: {"ok":true,"result"} or {"ok":false,"error":{code,message,details}}', async () => {
    const unknown = newHostId();
    const refused = await command(HOST_AUTHORIZE, { hostId: unknown });
    assert.deepEqual(refused.body, { ok: false, error: { code: 'NOT_FOUND', message: `host ${unknown} is not known`, details: [] } });
    assert.equal(refused.properties.contentType, 'application/json');
    const hostId = await knownHost();
    assert.deepEqual((await command(HOST_AUTHORIZE, { hostId })).body, { ok: true, result: { hostId, state: 'authorized' } });
    assert.deepEqual((await command(HOST_DEAUTHORIZE, { hostId })).body, { ok: true, result: { hostId, state: 'unauthorized' } });
    const invalid = await command(ROLE_ASSIGN, { hostId, role: 'Not A Role' });
    assert.equal((invalid.body as { error: { code: string } }).error.code, 'VALIDATION_FAILED', 'the pipeline validates before any handler');
  });

  test('the global guard and audit interceptor run for the REST route and the pf9.api command alike, with the same metadata; host events ask for no operator', async () => {
    const hostId = await knownHost();
    seen = [];
    assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/authorize`, { method: 'POST' })).status, 200);
    assert.deepEqual(seen, [
      { by: 'guard', transport: 'http', needs: 'operator' },
      { by: 'interceptor', transport: 'http', action: HOST_AUTHORIZE },
    ]);
    seen = [];
    assert.deepEqual((await command(HOST_DEAUTHORIZE, { hostId })).body, { ok: true, result: { hostId, state: 'unauthorized' } });
    assert.deepEqual((await command(HOST_AUTHORIZE, { hostId })).body, { ok: true, result: { hostId, state: 'authorized' } });
    assert.deepEqual(seen, [
      { by: 'guard', transport: 'rpc', needs: 'operator' },
      { by: 'interceptor', transport: 'rpc', action: HOST_DEAUTHORIZE },
      { by: 'guard', transport: 'rpc', needs: 'operator' },
      { by: 'interceptor', transport: 'rpc', action: HOST_AUTHORIZE },
    ]);
    seen = [];
    await planeFetch(rs, `${rs.url}/v1/hosts`);
    await planeFetch(rs, `${rs.url}/healthz`);
    await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat' });
    await waitFor('the heartbeat through the guard', () => seen.length >= 6);
    assert.deepEqual(seen, [
      { by: 'guard', transport: 'http', needs: 'viewer' },
      { by: 'interceptor', transport: 'http', action: undefined },
      { by: 'guard', transport: 'http', needs: 'public' },
      { by: 'interceptor', transport: 'http', action: undefined },
      { by: 'guard', transport: 'rpc', needs: undefined },
      { by: 'interceptor', transport: 'rpc', action: undefined },
    ]);
  });

  test("a refusal in the guard keeps its code on both transports: the ApplicationError thrown, a guard's false, Nest's UnauthorizedException", async () => {
    const hostId = await knownHost();
    const cases: Array<{ refuse: (context: ExecutionContext) => boolean; code: string; status: number; message?: string }> = [
      {
        refuse: () => {
          throw new ApplicationError(ErrorCodes.forbidden, 'not for you');
        },
        code: 'FORBIDDEN',
        status: 403,
        message: 'not for you',
      },
      { refuse: () => false, code: 'FORBIDDEN', status: 403 },
      {
        refuse: () => {
          throw new UnauthorizedException('who are you?');
        },
        code: 'UNAUTHENTICATED',
        status: 401,
        message: 'who are you?',
      },
    ];
    try {
      for (const c of cases) {
        refuse = c.refuse;
        const reply = (await command(HOST_AUTHORIZE, { hostId })).body as { ok: boolean; error: { code: string; message: string; details: unknown[] } };
        assert.equal(reply.ok, false);
        assert.deepEqual(Object.keys(reply.error).sort(), ['code', 'details', 'message']);
        assert.equal(reply.error.code, c.code);
        if (c.message !== undefined) assert.equal(reply.error.message, c.message);
        const answer = await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}/authorize`, { method: 'POST' });
        assert.equal(answer.status, c.status);
        assert.equal(((await answer.json()) as { error: { code: string } }).error.code, c.code);
      }
    } finally {
      refuse = null;
    }
    assert.equal(((await (await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`)).json()) as { state: string }).state, 'unauthorized', 'nothing refused was applied');
  });

  test('token.review comes from its own queue (not durable, deleted with its consumers, no dead-letter exchange) and a refused one is never copied to pf9.dlx', async () => {
    const config = loadRolestoreConfig({ AMQP_URL: brokerUrl(), PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL });
    const url = new URL(config.brokerManagementUrl);
    const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
    const queue = (await (await fetch(new URL(`/api/queues/${encodeURIComponent(config.brokerVhost)}/pf9.rolestore.token-review`, url), { headers: { authorization } })).json()) as {
      durable: boolean;
      auto_delete: boolean;
      exclusive: boolean;
      arguments: Record<string, unknown>;
    };
    assert.deepEqual([queue.durable, queue.auto_delete, queue.exclusive, queue.arguments], [false, true, false, {}]);

    const dead = await raw.capture(Exchanges.deadLetter, '');
    const hostId = newHostId();
    const ask = async (body: object | string): Promise<string> => {
      const reply = await raw.requestVia(Exchanges.events, `host.${hostId}.token-review`, body, { type: TOKEN_REVIEW, messageId: randomUUID(), mandatory: true });
      return (reply.body as { error: { code: string } }).error.code;
    };
    const secret = `secret-${randomUUID()}`;
    assert.equal(await ask({ hostId, token: secret }), 'HOST_NOT_AUTHORIZED', 'a host the plane does not know is not answered');
    assert.equal(await ask({ hostId, token: 'two words' }), 'VALIDATION_FAILED');
    assert.equal(await ask(`{"hostId":"${hostId}","token":"${secret}"`), 'VALIDATION_FAILED', 'not JSON');
    assert.equal(await receivedBeforeMarker(raw, dead, (headers) => headers['x-pf9-queue'] === 'pf9.rolestore.token-review'), false, 'no token.review reached pf9.dlx');
  });

  test('events refused by the pipeline are still dead-lettered with the reason', async () => {
    const dead = await raw.capture(Exchanges.deadLetter, '');
    const hostId = newHostId();
    const messageId = randomUUID();
    await raw.publish('pf9.events', `host.${hostId}.heartbeat`, { hostId }, { type: 'host.heartbeat', messageId });
    const copy = await dead.next((m) => m.properties.messageId === messageId);
    assert.match(String(copy.properties.headers?.['x-pf9-error']), /^VALIDATION_FAILED: invalid host\.heartbeat/);
    assert.equal(copy.properties.headers?.['x-pf9-queue'], 'pf9.rolestore.events');
  });
});

test('the role store stops in the order it always has: broker connection, heartbeats flushed, hosts\' broker access, database', async () => {
  const rs = await startRolestore(
    { AMQP_URL: brokerUrl(), PF9_DATA_DIR: await tempDir('transport-stop'), PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
    { waitForBrokerMs: 15_000 },
  );
  const order: string[] = [];
  const record = <T extends object>(instance: T, method: keyof T & string, name: string): void => {
    const original = (instance[method] as (...args: unknown[]) => Promise<unknown>).bind(instance);
    Object.assign(instance, { [method]: (...args: unknown[]) => (order.push(name), original(...args)) });
  };
  record(rs.app.get(AmqpConnection), 'close', 'broker connection closed');
  record(rs.app.get(HeartbeatIngester), 'flush', 'heartbeats flushed');
  record(rs.app.get(HostAccessService), 'stop', "hosts' broker access stopped");
  record(rs.app.get(Database), 'close', 'database closed');
  await rs.close();
  assert.deepEqual(order, ['broker connection closed', 'heartbeats flushed', "hosts' broker access stopped", 'database closed']);
});

/** What the small application below does when a command comes, set by each test. */
@Injectable()
class EchoService {
  calls = 0;
  behaviour: 'echo' | 'unavailable-twice' | 'crash' | 'observable' = 'echo';

  handle(command: HostAuthorizeCommand): Promise<unknown> | Observable<unknown> {
    this.calls += 1;
    if (this.behaviour === 'unavailable-twice' && this.calls <= 2) throw new UnavailableError('database');
    if (this.behaviour === 'crash') throw new Error('boom');
    if (this.behaviour === 'observable') return of({ step: 1 }, { step: 2, hostId: command.hostId });
    return Promise.resolve({ hostId: command.hostId, state: 'authorized' });
  }
}

@Controller('echo')
class EchoHttpController {
  constructor(private readonly echo: EchoService) {}

  @Post(':id')
  @HttpCode(200)
  authorize(@Param('id') id: string): Promise<unknown> | Observable<unknown> {
    return this.echo.handle({ hostId: id });
  }
}

@Controller()
class EchoAmqpController {
  constructor(private readonly echo: EchoService) {}

  @MessagePattern(HOST_AUTHORIZE)
  authorize(@Payload() command: HostAuthorizeCommand): Promise<unknown> | Observable<unknown> {
    return this.echo.handle(command);
  }
}

/** Counts, by transport, every call it lets through. */
@Injectable()
class CountingGuard implements CanActivate {
  readonly calls: string[] = [];
  canActivate(context: ExecutionContext): boolean {
    this.calls.push(context.getType());
    return true;
  }
}

@Injectable()
class CountingInterceptor implements NestInterceptor {
  readonly calls: string[] = [];
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    this.calls.push(context.getType());
    return next.handle();
  }
}

@Module({
  controllers: [EchoHttpController, EchoAmqpController],
  providers: [
    EchoService,
    CountingGuard,
    CountingInterceptor,
    { provide: Logger, useValue: quiet },
    { provide: APP_GUARD, useExisting: CountingGuard },
    { provide: APP_INTERCEPTOR, useExisting: CountingInterceptor },
    { provide: APP_FILTER, useClass: ContractErrorFilter },
  ],
})
class EchoModule {}

describe('AmqpTransport in a hybrid Nest application of its own', () => {
  const queue = `test.transport.${randomUUID()}`;
  let app: NestExpressApplication;
  let url: string;
  let raw: RawAmqp;
  let echo: EchoService;

  before(async () => {
    raw = await RawAmqp.open();
    app = await NestFactory.create<NestExpressApplication>(EchoModule, { logger: false, abortOnError: false });
    const connection = new AmqpConnection({ url: brokerUrl(), appId: 'transport-test', logger: quiet });
    const transport = new AmqpTransport(
      connection,
      [
        {
          queue,
          declare: async (channel) => void (await channel.assertQueue(queue, { durable: false, autoDelete: true, arguments: { 'x-dead-letter-exchange': Exchanges.deadLetter } })),
          kinds: [HOST_AUTHORIZE],
          prefetch: 10,
          unavailableBackoff: { initialMs: 50, maxMs: 200 },
        },
      ],
      quiet,
    );
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await app.listen(0, '127.0.0.1');
    await app.startAllMicroservices();
    await connection.ready(15_000);
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    echo = app.get(EchoService);
  });

  after(async () => {
    await app?.close();
    await raw?.close();
  });

  /** Sends host.authorize straight to the test's queue (the default exchange); the reply's body. */
  async function send(hostId: string, messageId = randomUUID()): Promise<unknown> {
    return (await raw.requestVia('', queue, { hostId }, { type: HOST_AUTHORIZE, messageId }, 15_000)).body;
  }

  test('a guard and an interceptor registered globally run for an HTTP route and an AMQP handler alike', async () => {
    const guard = app.get(CountingGuard);
    const interceptor = app.get(CountingInterceptor);
    echo.behaviour = 'echo';
    assert.equal((await fetch(`${url}/echo/h1`, { method: 'POST' })).status, 200);
    assert.deepEqual(await send('h1'), { ok: true, result: { hostId: 'h1', state: 'authorized' } });
    assert.deepEqual(guard.calls, ['http', 'rpc']);
    assert.deepEqual(interceptor.calls, ['http', 'rpc']);
  });

  test("an Observable's last value is the result", async () => {
    echo.behaviour = 'observable';
    assert.deepEqual(await send('h2'), { ok: true, result: { step: 2, hostId: 'h2' } });
  });

  test("a handler's UnavailableError holds the message (no reply, no dead letter) until the dependency is back, then it is handled once", async () => {
    const dead = await raw.capture(Exchanges.deadLetter, '');
    echo.behaviour = 'unavailable-twice';
    echo.calls = 0;
    const messageId = randomUUID();
    assert.deepEqual(await send('h3', messageId), { ok: true, result: { hostId: 'h3', state: 'authorized' } });
    assert.equal(echo.calls, 3, 'tried again after each pause, and answered once');
    assert.equal(await receivedBeforeMarker(raw, dead, () => true), false, 'nothing dead-lettered');
  });

  test('an unexpected error reaches the pipeline as itself: tried once more, then dead-lettered with INTERNAL and answered', async () => {
    const dead = await raw.capture(Exchanges.deadLetter, '');
    echo.behaviour = 'crash';
    echo.calls = 0;
    const messageId = randomUUID();
    assert.deepEqual(await send('h4', messageId), { ok: false, error: { code: 'INTERNAL', message: 'internal error', details: [] } });
    assert.equal(echo.calls, 2);
    const copy = await dead.next((m) => m.properties.messageId === messageId);
    assert.equal(copy.properties.headers?.['x-pf9-error'], 'INTERNAL: boom');
  });

  test('a kind the queue takes but no controller handles stops the start, and says which', async () => {
    const transport = new AmqpTransport({} as AmqpConnection, [{ queue: 'none', declare: async () => undefined, kinds: [ROLE_UNASSIGN], prefetch: 1 }], quiet);
    const err = await new Promise<unknown>((resolve) => transport.listen(resolve));
    assert.match(String(err), /no @MessagePattern or @EventPattern handler for role\.unassign \(queue none\)/);
  });
});
