import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import { HostAccessService, type HostBrokerUsers } from './host-access.service';

class FakeUsers implements HostBrokerUsers {
  readonly calls: string[] = [];
  async ensureHostUser(hostId: string) {
    this.calls.push(`ensure ${hostId}`);
    return { username: `pf9-host-${hostId}`, password: 'secret' };
  }
  async grant(hostId: string) {
    this.calls.push(`grant ${hostId}`);
  }
  async revoke(hostId: string) {
    this.calls.push(`revoke ${hostId}`);
  }
}

const quiet = new Logger('test', 'error');

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

test('a registered host gets its user and its own queue and keys at once', async () => {
  const users = new FakeUsers();
  const access = new HostAccessService(users, 60_000, quiet);
  assert.deepEqual(await access.registered('h1'), { username: 'pf9-host-h1', password: 'secret' });
  assert.deepEqual(users.calls, ['ensure h1', 'grant h1']);
});

test('a deauthorized host is cut off once its roles are gone, not before', async () => {
  const users = new FakeUsers();
  const access = new HostAccessService(users, 60_000, quiet);
  access.deauthorized('h1', 2);
  await settle();
  assert.deepEqual(users.calls, []);
  access.rolesGone('h1');
  await settle();
  assert.deepEqual(users.calls, ['revoke h1']);
  access.deauthorized('h2', 0);
  await settle();
  assert.deepEqual(users.calls, ['revoke h1', 'revoke h2']);
});

test('a deauthorized host that never reports is cut off after the grace period; authorizing again cancels it', async () => {
  const users = new FakeUsers();
  const access = new HostAccessService(users, 50, quiet);
  access.deauthorized('h1', 1);
  access.deauthorized('h2', 1);
  await access.authorized('h2');
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(users.calls, ['grant h2', 'revoke h1']);
  access.stop();
});

test('without broker users nothing is asked of the broker', async () => {
  const access = new HostAccessService(null, 10, quiet);
  assert.equal(await access.registered('h1'), null);
  assert.equal(access.enabled, false);
});
