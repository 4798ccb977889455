import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { usage } from './cli';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';

const TOKEN = { token: 'Xq3v2bS0aZk8m1YpVtL4cN7rUe5wD9gHjQfE6iOoPsA', expiresAt: '2030-01-02T00:00:00.000Z' };

describe('join-token commands', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  it('join-token create POSTs an empty request and prints the token alone', async () => {
    store.on('POST', '/v1/join-tokens', { status: 201, json: TOKEN });
    const run = await runCliCollect(['join-token', 'create'], { env });
    assert.deepEqual(run, { code: 0, stdout: `${TOKEN.token}\n`, stderr: '' });
    assert.equal(store.requests[0].contentType, 'application/json');
    assert.deepEqual(JSON.parse(store.requests[0].body.toString()), {});
  });

  it('--ttl is sent as ttlS, and --json prints the token with its expiry', async () => {
    store.on('POST', '/v1/join-tokens', { status: 201, json: TOKEN });
    const run = await runCliCollect(['join-token', 'create', '--ttl', '3600', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), TOKEN);
    assert.deepEqual(JSON.parse(store.requests[0].body.toString()), { ttlS: 3600 });
  });

  it('--host is sent as hostId, and --json prints the host the token is for', async () => {
    const bound = { ...TOKEN, hostId: 'host-a' };
    store.on('POST', '/v1/join-tokens', { status: 201, json: bound });
    const run = await runCliCollect(['join-token', 'create', '--host', 'host-a', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), bound);
    assert.deepEqual(JSON.parse(store.requests[0].body.toString()), { hostId: 'host-a' });
  });

  it('--host with --ttl sends both, and prints the token alone', async () => {
    store.on('POST', '/v1/join-tokens', { status: 201, json: { ...TOKEN, hostId: 'host-a' } });
    const run = await runCliCollect(['join-token', 'create', '--ttl=600', '--host=host-a'], { env });
    assert.deepEqual(run, { code: 0, stdout: `${TOKEN.token}\n`, stderr: '' });
    assert.deepEqual(JSON.parse(store.requests[0].body.toString()), { ttlS: 600, hostId: 'host-a' });
  });

  for (const [label, host] of [['a.b', 'a.b'], ['-a', '-a'], ['empty', ''], ['of 65 characters', 'x'.repeat(65)]]) {
    it(`--host ${label} is a usage error and sends nothing`, async () => {
      const run = await runCliCollect(['join-token', 'create', `--host=${host}`], { env });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^error: --host must be a host id \(1-64 letters, digits, "_" or "-"\), got "/);
      assert.equal(store.requests.length, 0);
    });
  }

  for (const ttl of ['0', '-5', '1.5', 'soon', '2592001']) {
    it(`--ttl ${ttl} is a usage error and sends nothing`, async () => {
      const run = await runCliCollect(['join-token', 'create', `--ttl=${ttl}`], { env });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^error: --ttl must be a whole number of seconds from 1 to 2592000/);
      assert.equal(store.requests.length, 0);
    });
  }

  it('an API error is printed and exits 1', async () => {
    store.on('POST', '/v1/join-tokens', { status: 400, json: { error: { code: 'VALIDATION_FAILED', message: 'invalid body', details: [{ path: 'ttlS', problems: ['ttlS must not be less than 1'] }] } } });
    const run = await runCliCollect(['join-token', 'create'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: VALIDATION_FAILED: invalid body\n  - ttlS: ttlS must not be less than 1\n' });
  });

  it('an answer whose hostId is not a string is refused', async () => {
    store.on('POST', '/v1/join-tokens', { status: 201, json: { ...TOKEN, hostId: 7 } });
    const run = await runCliCollect(['join-token', 'create', '--host', 'host-a'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: the role store did not answer with a join token\n' });
  });

  it('an answer without a token is refused', async () => {
    store.on('POST', '/v1/join-tokens', { status: 201, json: { expiresAt: TOKEN.expiresAt } });
    const run = await runCliCollect(['join-token', 'create'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: the role store did not answer with a join token\n' });
  });

  it('is in the usage', () => {
    assert.ok(usage().includes('\n  join-token create [--ttl SECONDS] [--host ID]\n      '));
  });
});
