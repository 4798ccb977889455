import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { loadRolestoreConfig } from '../config/rolestore.config';
import { createBrokerAccounts } from './broker-accounts.factory';
import { BrokerAccountsService } from './broker-accounts.service';
import { RabbitMqManagementClient } from './rabbitmq-management.client';

const quiet = new Logger('test', 'error');

test('host broker users are off unless PF9_HOST_BROKER_USERS=on', () => {
  assert.equal(loadRolestoreConfig({}).hostBrokerUsers, 'off');
  assert.equal(createBrokerAccounts(loadRolestoreConfig({}), quiet), null);
  assert.ok(createBrokerAccounts(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on' }), quiet) instanceof BrokerAccountsService);
  assert.throws(() => loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'yes' }), /PF9_HOST_BROKER_USERS/);
});

test('a deauthorized host keeps its broker access 120 s unless PF9_HOST_DEAUTHORIZED_GRACE_S says otherwise', () => {
  assert.equal(loadRolestoreConfig({}).deauthorizedGraceS, 120);
  assert.equal(loadRolestoreConfig({ PF9_HOST_DEAUTHORIZED_GRACE_S: '5' }).deauthorizedGraceS, 5);
  for (const bad of ['0', '2m', '86401']) assert.throws(() => loadRolestoreConfig({ PF9_HOST_DEAUTHORIZED_GRACE_S: bad }), /PF9_HOST_DEAUTHORIZED_GRACE_S/);
});

test("the management API defaults to AMQP_URL's host and credentials on port 15672, and the vhost to AMQP_URL's", () => {
  const plain = loadRolestoreConfig({});
  assert.equal(plain.brokerManagementUrl, 'http://guest:guest@127.0.0.1:15672');
  assert.equal(plain.brokerVhost, '/');
  const custom = loadRolestoreConfig({ AMQP_URL: 'amqp://pl%40ne:s3cr%2Ft@rabbit.internal:5673/prod%2Fa' });
  assert.equal(custom.brokerManagementUrl, 'http://pl%40ne:s3cr%2Ft@rabbit.internal:15672');
  assert.equal(custom.brokerVhost, 'prod/a');
  assert.equal(loadRolestoreConfig({ AMQP_URL: 'amqp://rabbit/' }).brokerManagementUrl, 'http://guest:guest@rabbit:15672');
  assert.equal(loadRolestoreConfig({ PF9_BROKER_MANAGEMENT_URL: 'https://admin:pw@mq.example.com:443' }).brokerManagementUrl, 'https://admin:pw@mq.example.com:443');
  assert.throws(() => loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on', PF9_BROKER_MANAGEMENT_URL: 'ftp://x' }), /PF9_BROKER_MANAGEMENT_URL/);
});

test('the management client sends the URL credentials as Basic auth, not in the URL', () => {
  const client = new RabbitMqManagementClient('http://pl%40ne:s3cr%2Ft@rabbit.internal:15672/');
  assert.equal(client.url, 'http://rabbit.internal:15672');
});
