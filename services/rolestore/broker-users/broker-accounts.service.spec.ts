import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { BrokerAccountsService, HostBrokerUserMissingError, type BrokerManagementApi } from './broker-accounts.service';
import { escapeRegex, hostPermissions } from './host-broker-permissions';
import { ManagementApiError, type OperatorPolicy, type TopicPermissions, type VhostPermissions } from './rabbitmq-management.client';

const quiet = new Logger('test', 'error');

/** Records every management call in order; users and permissions kept in memory. */
class FakeManagementApi implements BrokerManagementApi {
  readonly calls: string[] = [];
  readonly users = new Map<string, string>();
  readonly permissions = new Map<string, VhostPermissions>();
  /** Holds setting a host's permissions until the test opens it. */
  gate: Promise<void> = Promise.resolve();

  async putUser(name: string, password: string): Promise<void> {
    this.calls.push(`putUser ${name}`);
    this.users.set(name, password);
  }
  async deleteUser(name: string): Promise<boolean> {
    this.calls.push(`deleteUser ${name}`);
    return this.users.delete(name);
  }
  async getPermissions(user: string): Promise<VhostPermissions | null> {
    this.calls.push(`getPermissions ${user}`);
    return this.permissions.get(user) ?? null;
  }
  async setPermissions(user: string, permissions: VhostPermissions): Promise<void> {
    if (permissions.configure !== '') await this.gate;
    this.calls.push(`setPermissions ${user} ${permissions.configure === '' ? 'none' : 'host'}`);
    if (!this.users.has(user)) throw new ManagementApiError('PUT', `/api/permissions/%2F/${user}`, 400, '{"error":"bad_request","reason":"vhost_or_user_not_found"}');
    this.permissions.set(user, permissions);
  }
  async clearPermissions(user: string): Promise<boolean> {
    this.calls.push(`clearPermissions ${user}`);
    return this.permissions.delete(user);
  }
  async setTopicPermissions(user: string, permissions: TopicPermissions): Promise<void> {
    this.calls.push(`setTopicPermissions ${user} ${permissions.exchange}`);
    if (!this.users.has(user)) throw new ManagementApiError('PUT', `/api/topic-permissions/%2F/${user}`, 400, '{"error":"bad_request","reason":"vhost_or_user_not_found"}');
  }
  async clearTopicPermissions(user: string): Promise<boolean> {
    this.calls.push(`clearTopicPermissions ${user}`);
    return true;
  }
  async closeUserConnections(user: string): Promise<number> {
    this.calls.push(`closeUserConnections ${user}`);
    return 0;
  }
  readonly limits = new Map<string, Record<string, number>>();
  readonly policies = new Map<string, OperatorPolicy>();
  async setUserLimit(user: string, limit: string, value: number): Promise<void> {
    this.calls.push(`setUserLimit ${user} ${limit} ${value}`);
    this.limits.set(user, { ...this.limits.get(user), [limit]: value });
  }
  async putOperatorPolicy(policy: OperatorPolicy): Promise<void> {
    this.calls.push(`putOperatorPolicy ${policy.name}`);
    this.policies.set(policy.name, policy);
  }
  async overview(): Promise<{ rabbitmq_version: string }> {
    return { rabbitmq_version: '3.10.8' };
  }
}

describe('host broker permissions', () => {
  test('each host is held to its own queue and routing keys, with the dots of its names escaped', () => {
    const p = hostPermissions('h-1');
    assert.deepEqual(p.vhost, {
      configure: '^pf9\\.host\\.h\\-1$',
      write: '^(pf9\\.host\\.h\\-1|pf9\\.events|pf9\\.dlx)$',
      read: '^(pf9\\.host\\.h\\-1|pf9\\.control)$',
    });
    assert.deepEqual(p.topics, [
      { exchange: 'pf9.events', write: '^host\\.h\\-1\\.', read: '^$' },
      { exchange: 'pf9.control', write: '^$', read: '^host\\.h\\-1\\.' },
    ]);
    const own = new RegExp(p.topics[0].write);
    assert.ok(own.test('host.h-1.heartbeat'));
    assert.ok(!own.test('host.h-1x.heartbeat'), 'a host whose id starts with another one is another host');
    assert.ok(!own.test('hostXh-1.heartbeat'));
    assert.ok(!new RegExp(p.vhost.configure).test('pf9.host.h-10'));
  });

  test('regex metacharacters are escaped', () => {
    assert.equal(escapeRegex('a.b*c+d?(e)[f]{g}|h^i$j\\k-l'), 'a\\.b\\*c\\+d\\?\\(e\\)\\[f\\]\\{g\\}\\|h\\^i\\$j\\\\k\\-l');
  });
});

describe('BrokerAccountsService', () => {
  test('a new host user gets a 32-byte base64url password and may connect but do nothing', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    const credentials = await service.ensureHostUser('h1');
    assert.equal(credentials.username, 'pf9-host-h1');
    assert.equal(Buffer.from(credentials.password, 'base64url').length, 32);
    assert.equal(api.users.get('pf9-host-h1'), credentials.password);
    assert.deepEqual(api.permissions.get('pf9-host-h1'), { configure: '', write: '', read: '' });
  });

  test('a host that registers again gets a new password and keeps its permissions', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    const first = await service.ensureHostUser('h1');
    await service.grant('h1');
    const second = await service.ensureHostUser('h1');
    assert.notEqual(second.password, first.password);
    assert.deepEqual(api.permissions.get('pf9-host-h1'), hostPermissions('h1').vhost);
  });

  test('grant sets the topic permissions before the vhost permissions (no entry lets every key through)', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    await service.ensureHostUser('h1');
    api.calls.length = 0;
    await service.grant('h1');
    assert.deepEqual(api.calls, ['setTopicPermissions pf9-host-h1 pf9.events', 'setTopicPermissions pf9-host-h1 pf9.control', 'setPermissions pf9-host-h1 host']);
  });

  test('revoke takes the vhost permissions away first, then the topic permissions, then closes the connections', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    await service.ensureHostUser('h1');
    await service.grant('h1');
    api.calls.length = 0;
    await service.revoke('h1');
    assert.deepEqual(api.calls, ['setPermissions pf9-host-h1 none', 'clearTopicPermissions pf9-host-h1', 'closeUserConnections pf9-host-h1']);
  });

  test('grant of a host without a broker user says so; revoke of one has nothing to do', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    await assert.rejects(service.grant('h1'), HostBrokerUserMissingError);
    await service.revoke('h1');
    assert.ok(!api.calls.includes('closeUserConnections pf9-host-h1'));
  });

  test('calls for one host run in order: a quick authorize then deauthorize ends deauthorized', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    await service.ensureHostUser('h1');
    let open!: () => void;
    api.gate = new Promise<void>((resolve) => (open = resolve));
    const granted = service.grant('h1');
    const revoked = service.revoke('h1');
    open();
    await Promise.all([granted, revoked]);
    assert.deepEqual(api.permissions.get('pf9-host-h1'), { configure: '', write: '', read: '' });
  });

  test('host ids outside the contract are refused before any call', async () => {
    const api = new FakeManagementApi();
    const service = new BrokerAccountsService(api, quiet);
    await assert.rejects(service.grant('.*'), /not a host id/);
    await assert.rejects(service.ensureHostUser('a.b'), /not a host id/);
    assert.deepEqual(api.calls, []);
  });
});
