import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutionContext } from '@nestjs/common';
import type { MessageContext } from '#amqp';
import { loadRolestoreConfig } from '../config/rolestore.config';
import { assertSender, HostSenderGuard } from './host-sender.guard';

const context = (routingKey: string, userId?: string): MessageContext => ({ kind: 'host.heartbeat', routingKey, exchange: 'pf9.events', redelivered: false, userId });

test('a host may speak for itself only: routing key and broker user must name the host of the body', () => {
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat')));
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h1')));
  assert.doesNotThrow(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h1'), true));
  assert.throws(() => assertSender('h1', context('host.h2.heartbeat')), /may not speak for host h1/);
  assert.throws(() => assertSender('h1', context('host.h1.heartbeat', 'pf9-host-h2')), /broker user pf9-host-h2 may not speak for host h1/);
  assert.throws(() => assertSender('h1', context('host.h1.heartbeat'), true), /broker user undefined/);
});

test("the guard of host events checks the event's host against its sender, and wants a broker user wherever hosts have their own", () => {
  const event = (hostId: string, message: MessageContext): ExecutionContext =>
    ({ switchToRpc: () => ({ getData: () => ({ hostId }), getContext: () => message }) }) as unknown as ExecutionContext;
  const own = new HostSenderGuard(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on' }));
  assert.equal(own.canActivate(event('h1', context('host.h1.heartbeat', 'pf9-host-h1'))), true);
  assert.throws(() => own.canActivate(event('h1', context('host.h1.heartbeat'))), /broker user undefined may not speak for host h1/);
  assert.throws(() => own.canActivate(event('h2', context('host.h1.heartbeat', 'pf9-host-h1'))), /host h1 may not speak for host h2/);
  const shared = new HostSenderGuard(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on', PF9_INSECURE_SHARED_BROKER_USER: 'guest' }));
  assert.equal(shared.canActivate(event('h1', context('host.h1.heartbeat'))), true, 'hosts on the shared user send none');
});
