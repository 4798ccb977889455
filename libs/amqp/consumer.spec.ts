import 'reflect-metadata';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelModel, ConsumeMessage, Options } from 'amqplib';
import fc from 'fast-check';
import { Exchanges, Headers, MAX_BODY_BYTES, type Reply } from '#contracts';
import { Logger } from '#logging';
import type { AmqpConnection } from './amqp-connection';
import { MessageConsumer, type ConsumerOptions, type HandlerMap } from './consumer';

const FUZZ = { seed: 20261207, numRuns: 500 };

type Outcome = { kind: 'ack' } | { kind: 'nack'; requeue: boolean };

interface Published {
  exchange: string;
  routingKey: string;
  content: Buffer;
  headers: Record<string, unknown>;
}

/** The broker side of one consumer, in memory: deliveries in, acks, nacks and publishes out. */
class FakeBroker {
  readonly published: Published[] = [];
  readonly replies: Array<{ queue: string; reply: Reply<unknown> }> = [];
  private onMessage: ((msg: ConsumeMessage | null) => void) | null = null;
  private readonly outcomes = new Map<number, (outcome: Outcome) => void>();
  private tag = 0;

  readonly connection = {
    addSetup: async (setup: (model: ChannelModel) => Promise<void>) => setup(this.model),
    publishRaw: async (exchange: string, routingKey: string, content: Buffer, properties: Options.Publish) => {
      this.published.push({ exchange, routingKey, content, headers: (properties.headers ?? {}) as Record<string, unknown> });
    },
    publish: async (_exchange: string, queue: string, _kind: string, body: unknown) => {
      this.replies.push({ queue, reply: body as Reply<unknown> });
    },
  } as unknown as AmqpConnection;

  private readonly channel = {
    on: () => undefined,
    prefetch: async () => undefined,
    consume: async (_queue: string, onMessage: (msg: ConsumeMessage | null) => void) => {
      this.onMessage = onMessage;
    },
    ack: (msg: ConsumeMessage) => this.settle(msg, { kind: 'ack' }),
    nack: (msg: ConsumeMessage, _allUpTo: boolean, requeue: boolean) => this.settle(msg, { kind: 'nack', requeue }),
  };

  private readonly model = { createChannel: async () => this.channel } as unknown as ChannelModel;

  /** Delivers one message and resolves with what the consumer did with it. */
  deliver(content: Buffer, properties: Partial<ConsumeMessage['properties']> = {}, fields: Partial<ConsumeMessage['fields']> = {}): Promise<Outcome> {
    if (!this.onMessage) throw new Error('no consumer');
    const deliveryTag = ++this.tag;
    const msg = {
      content,
      fields: { deliveryTag, redelivered: false, exchange: Exchanges.api, routingKey: 'role.assign', consumerTag: 'c', ...fields },
      properties: { headers: {}, ...properties },
    } as unknown as ConsumeMessage;
    const settled = new Promise<Outcome>((resolve) => this.outcomes.set(deliveryTag, resolve));
    this.onMessage(msg);
    return settled;
  }

  deadLetters(): Published[] {
    return this.published.filter((p) => p.exchange === Exchanges.deadLetter);
  }

  private settle(msg: ConsumeMessage, outcome: Outcome): void {
    const resolve = this.outcomes.get(msg.fields.deliveryTag);
    assert.ok(resolve, `message ${msg.fields.deliveryTag} settled twice`);
    this.outcomes.delete(msg.fields.deliveryTag);
    resolve(outcome);
  }
}

const quiet = new Logger('test', 'error');
let escaped: unknown[] = [];
const onEscape = (err: unknown): void => void escaped.push(err);

async function consumer(handlers: HandlerMap, options: Partial<ConsumerOptions> = {}): Promise<FakeBroker> {
  const broker = new FakeBroker();
  await new MessageConsumer(broker.connection, {
    queue: 'pf9.test',
    declare: async () => undefined,
    handlers,
    prefetch: 10,
    kindFromRoutingKey: true,
    logger: quiet,
    ...options,
  }).start();
  return broker;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const assigned: HandlerMap = { 'role.assign': async (m) => ({ hostId: m.hostId, role: m.role, version: '1.0.0', generation: 1 }) };

describe('the consumer pipeline against poison input', () => {
  beforeEach(() => {
    escaped = [];
    process.on('unhandledRejection', onEscape);
  });
  afterEach(() => {
    process.off('unhandledRejection', onEscape);
    assert.deepEqual(escaped, [], 'nothing may escape the pipeline');
  });

  test('the issue\'s example is handled, and the config reaches the handler exactly', async () => {
    let seen: unknown;
    const broker = await consumer({ 'role.assign': async (m) => ((seen = m.config), { hostId: m.hostId, role: m.role, version: '1.0.0', generation: 1 }) });
    const outcome = await broker.deliver(Buffer.from('{"hostId":"x","role":"demo","config":{"constructor":1,"toString":"y"}}'), { replyTo: 'amq.rabbitmq.reply-to.abc' });
    assert.deepEqual(outcome, { kind: 'ack' });
    assert.equal(JSON.stringify(seen), '{"constructor":1,"toString":"y"}');
    assert.equal(broker.replies[0]?.reply.ok, true);
  });

  for (const [name, body, reason] of [
    ['__proto__ in the config', Buffer.from('{"hostId":"x","role":"demo","config":{"__proto__":{"a":1}}}'), /__proto__ is not allowed/],
    ['nesting 10,000 deep', Buffer.from(`{"hostId":"x","role":"demo","config":${'['.repeat(10_000)}${']'.repeat(10_000)}}`), /nests deeper than 64/],
    ['a number beyond 2^53', Buffer.from('{"hostId":"x","role":"demo","config":{"n":9007199254740993}}'), /cannot be represented exactly/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /not valid UTF-8/],
    ['a huge array within the size limit', Buffer.from(`{"hostId":"x","role":"demo","config":[${'0,'.repeat(400_000)}0]}`), /config must be a JSON object/],
    ['a wrong type where an object is expected', json({ hostId: 'x', role: 'demo', config: [] }), /config must be a JSON object/],
    ['an inherited key at the top', json({ hostId: 'x', role: 'demo', toString: 1 }), /property toString is not allowed/],
  ] as const) {
    test(`${name}: VALIDATION_FAILED, dead-lettered with the reason, answered, acked`, async () => {
      const broker = await consumer(assigned);
      const outcome = await broker.deliver(body, { replyTo: 'amq.gen-reply', messageId: 'm1' });
      assert.deepEqual(outcome, { kind: 'ack' });
      const [dead] = broker.deadLetters();
      assert.ok(dead, 'dead-lettered');
      assert.match(String(dead.headers[Headers.error]), /^VALIDATION_FAILED: /);
      assert.match(String(dead.headers[Headers.error]), reason);
      const reply = broker.replies[0]?.reply;
      assert.ok(reply && !reply.ok);
      assert.equal(reply.error.code, 'VALIDATION_FAILED');
    });
  }

  test('a validator that throws: INTERNAL, dead-lettered, acked, and the consumer goes on', async () => {
    let calls = 0;
    const broker = await consumer(assigned, {
      validate: () => {
        calls++;
        if (calls === 1) throw new TypeError('value.constructor is not a constructor');
        return { ok: true, value: { hostId: 'h', role: 'demo' } as never };
      },
    });
    assert.deepEqual(await broker.deliver(json({}), { replyTo: 'amq.gen-reply' }), { kind: 'ack' });
    assert.match(String(broker.deadLetters()[0]?.headers[Headers.error]), /^INTERNAL: /);
    assert.equal(broker.replies[0]?.reply.ok, false);
    assert.deepEqual(await broker.deliver(json({})), { kind: 'ack' });
  });

  test('a handler that throws: tried once more, then INTERNAL and dead-lettered; never a loop', async () => {
    const broker = await consumer({
      'role.assign': async () => {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    assert.deepEqual(await broker.deliver(json({ hostId: 'x', role: 'demo' })), { kind: 'nack', requeue: true });
    assert.deepEqual(await broker.deliver(json({ hostId: 'x', role: 'demo' }), {}, { redelivered: true }), { kind: 'ack' });
    assert.match(String(broker.deadLetters()[0]?.headers[Headers.error]), /^INTERNAL: /);
  });

  test('a refusal reason that would not fit in a frame is cut short', async () => {
    const broker = await consumer(assigned);
    await broker.deliver(json({ hostId: 'x', role: 'demo', ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`unknown-${'k'.repeat(100)}-${i}`, 1])) }));
    assert.ok(String(broker.deadLetters()[0]?.headers[Headers.error]).length <= 2049);
  });

  test("a reply is never published into one of the plane's own queues", async () => {
    const broker = await consumer(assigned);
    await broker.deliver(json({ hostId: 'x', role: 'demo' }), { replyTo: 'pf9.host.other' });
    assert.deepEqual(broker.replies, []);
  });

  test('any bytes, any properties: every message is settled exactly once and nothing escapes (fuzz)', async () => {
    const broker = await consumer({
      ...assigned,
      'role.unassign': async (m) => ({ hostId: m.hostId, role: m.role, generation: 1 }),
      'host.heartbeat': async () => undefined,
      'role.status': async () => undefined,
    });
    const dangerousKey = fc.constantFrom('constructor', '__proto__', 'prototype', 'toString', 'hostId', 'role', 'config', 'cpu', 'generation');
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double(),
        fc.string(),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.oneof(dangerousKey, fc.string()), tie('v'), { maxKeys: 5 }),
      ),
    })).v;
    const text = fc.oneof(
      value.map((v) => JSON.stringify(v) ?? 'null'),
      fc.record({ hostId: fc.constant('h1'), role: fc.constant('demo'), config: value }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.constantFrom('{"hostId":"h1","role":"demo","config":{"n":123456789012345678901}}', '{"__proto__":{}}', '[]', '', '{'),
    );
    const body = fc.oneof(text.map((t) => Buffer.from(t)), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)));
    const kind = fc.option(fc.constantFrom('role.assign', 'role.unassign', 'host.heartbeat', 'role.status', 'host.sync', 'toString', 'constructor', '__proto__', 'nope', ''), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(body, kind, fc.option(fc.string(), { nil: undefined }), fc.boolean(), async (content, type, replyTo, redelivered) => {
        const outcome = await broker.deliver(content, { type, replyTo, messageId: 'm' }, { redelivered, routingKey: type ?? 'role.assign' });
        assert.ok(outcome.kind === 'ack' || outcome.kind === 'nack');
      }),
      FUZZ,
    );
    assert.ok(broker.deadLetters().length > 0);
  });

  test('a body over the size limit is refused without being parsed', async () => {
    const broker = await consumer(assigned);
    assert.deepEqual(await broker.deliver(Buffer.alloc(MAX_BODY_BYTES + 1, 0x20)), { kind: 'ack' });
    assert.match(String(broker.deadLetters()[0]?.headers[Headers.error]), /exceeds the limit/);
  });
});
