import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { loadRolestoreConfig } from '../config/rolestore.config';
import { createBrokerAccounts } from './broker-accounts.factory';
import { BrokerAccountsService } from './broker-accounts.service';
import { BrokerIdentityPolicy, resolveHostBrokerUsers } from './broker-identity';
import { RabbitMqManagementClient } from './rabbitmq-management.client';

const quiet = new Logger('test', 'error');

test('host broker users are auto unless PF9_HOST_BROKER_USERS says on or off; the service exists once it is on', () => {
  assert.equal(loadRolestoreConfig({}).hostBrokerUsers, 'auto');
  assert.equal(createBrokerAccounts(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'off' }), quiet), null);
  assert.ok(createBrokerAccounts(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on' }), quiet) instanceof BrokerAccountsService);
  assert.throws(() => loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'yes' }), /PF9_HOST_BROKER_USERS/);
  assert.throws(() => loadRolestoreConfig({ PF9_BROKER_MANAGEMENT_URL: 'ftp://x' }), /PF9_BROKER_MANAGEMENT_URL/, 'auto needs the API too');
});

test("the plane's broker user is AMQP_URL's (guest when it names none); the shared one is unset unless PF9_INSECURE_SHARED_BROKER_USER", () => {
  assert.equal(loadRolestoreConfig({}).planeBrokerUser, 'guest');
  assert.equal(loadRolestoreConfig({ AMQP_URL: 'amqp://pl%40ne:pw@rabbit:5672/v' }).planeBrokerUser, 'pl@ne');
  assert.equal(loadRolestoreConfig({ AMQP_URL: 'amqp://rabbit' }).planeBrokerUser, 'guest');
  assert.equal(loadRolestoreConfig({}).insecureSharedBrokerUser, undefined);
  assert.equal(loadRolestoreConfig({ PF9_INSECURE_SHARED_BROKER_USER: '' }).insecureSharedBrokerUser, undefined);
  assert.equal(loadRolestoreConfig({ PF9_INSECURE_SHARED_BROKER_USER: 'hosts' }).insecureSharedBrokerUser, 'hosts');
});

test('PF9_HOST_BROKER_USERS=auto is on when the management API answers at start, off otherwise; on and off are as said', async () => {
  const answers = async (): Promise<void> => undefined;
  const silent = async (): Promise<void> => {
    throw new Error('ECONNREFUSED');
  };
  assert.equal(await resolveHostBrokerUsers('auto', answers, quiet), true);
  assert.equal(await resolveHostBrokerUsers('auto', silent, quiet), false);
  assert.equal(await resolveHostBrokerUsers('on', silent, quiet), true);
  assert.equal(await resolveHostBrokerUsers('off', answers, quiet), false);
});

test('a plane admits hosts on a shared broker identity only when told to (insecure), and says what each host has', () => {
  const own = new BrokerIdentityPolicy(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'on' }));
  assert.equal(own.joinRefusal(), null);
  assert.equal(own.identityOf(true), 'own');
  assert.equal(own.identityOf(false), 'none');
  assert.match(own.authorizeRefusal('h1', false) ?? '', /host h1 has no broker user of its own.*join-token create --host h1/);
  assert.equal(own.authorizeRefusal('h1', true), null);

  const none = new BrokerIdentityPolicy(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'off' }));
  assert.match(none.joinRefusal() ?? '', /does not admit hosts on a shared broker user.*rabbitmq_management.*PF9_INSECURE_SHARED_BROKER_USER/);
  assert.notEqual(none.authorizeRefusal('h1', false), null);

  const insecure = new BrokerIdentityPolicy(loadRolestoreConfig({ PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest' }));
  assert.equal(insecure.joinRefusal(), null);
  assert.equal(insecure.authorizeRefusal('h1', false), null);
  assert.equal(insecure.identityOf(false), 'shared-insecure');
  const lines: string[] = [];
  insecure.logAtStart(new Logger('test', 'info', { write: (line) => void lines.push(line) }));
  assert.match(lines.join(''), /INSECURE.*can act as every other host/);
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
