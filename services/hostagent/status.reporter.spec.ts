import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AmqpConnection } from '#amqp';
import { validateMessage } from '#contracts';
import { Logger } from '#logging';
import type { Outbox, OutboxEntry } from './outbox';
import { StatusReporter } from './status.reporter';

test('a hook that printed NUL bytes still gets its report through: NUL becomes U+FFFD, which the plane accepts', async () => {
  const appended: OutboxEntry[] = [];
  const outbox = { append: async (entry: OutboxEntry) => void appended.push(entry), size: () => appended.length } as unknown as Outbox;
  const offline = { isConnected: () => false } as unknown as AmqpConnection;
  const reporter = new StatusReporter('h1', outbox, offline, new Logger('test', 'error'));
  await reporter.report({ role: 'demo', version: '1.0.0', generation: 2, state: 'failed', message: 'hook configure failed\u0000', log: 'binary \u0000\u0000 output' });
  const body = appended[0]?.body as { log: string; message: string };
  assert.equal(body.log, 'binary \ufffd\ufffd output');
  assert.equal(body.message, 'hook configure failed\ufffd');
  assert.equal(validateMessage('role.status', body).ok, true);
});
