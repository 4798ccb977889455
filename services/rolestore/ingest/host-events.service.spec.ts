import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageContext } from '#amqp';
import { assertSender } from './host-events.service';

const context = (routingKey: string, userId?: string): MessageContext => ({ kind: 'host.heartbeat', routingKey, exchange: 'pf9.events', redelivered: false, userId });

test('a host may speak for itself only: routing key and broker user must name the host of the body', () => {
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat')));
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h1')));
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h1'), true));
  assert.throws(() => assertSender('h1', context('host.h2.heartbeat')), /may not speak for host h1/);
  assert.throws(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h2')), /broker user pf9-host-h2 may not speak for host h1/);
  assert.throws(() => assertSender('h1', context('host.h1.heartbeat'), true), /broker user undefined/);
});
