import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { FakeRoleStore, runCliCollect, type RecordedRequest } from './fake-role-store.testing';

const ASSIGNED = { hostId: 'host-a', role: 'demo', version: '1.1.0', generation: 7 };

function jsonBody(request: RecordedRequest): unknown {
  return JSON.parse(request.body.toString('utf8'));
}

describe('role commands', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'hostplane-cli-'));
  });
  after(() => rm(work, { recursive: true, force: true }));
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    store.on('PUT', '/v1/hosts/host-a/roles/demo', { status: 200, json: ASSIGNED });
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  it('role assign PUTs the version and config as JSON', async () => {
    const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', '--version', '1.1.0', '--config', '{"greeting":"hi","n":2}'], {
      env,
    });
    assert.equal(run.code, 0, run.stderr);
    const [request] = store.requests;
    assert.deepEqual([request.method, request.path, request.contentType], ['PUT', '/v1/hosts/host-a/roles/demo', 'application/json']);
    assert.deepEqual(jsonBody(request), { version: '1.1.0', config: { greeting: 'hi', n: 2 } });
    assert.equal(run.stdout, 'role demo 1.1.0 assigned to host host-a (generation 7)\n');
  });

  it('role assign without options sends an empty body: newest version, default config', async () => {
    const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(jsonBody(store.requests[0]), {});
    assert.deepEqual(JSON.parse(run.stdout), ASSIGNED);
  });

  it('role assign --config-file reads the config from a file', async () => {
    await writeFile(join(work, 'vip.json'), '{"vip":"10.0.0.100/24","interface":"eth0","routerId":51,"priority":100}\n');
    const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', '--config-file', 'vip.json'], { env, cwd: work });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(jsonBody(store.requests[0]), { config: { vip: '10.0.0.100/24', interface: 'eth0', routerId: 51, priority: 100 } });
  });

  for (const [label, config, expected] of [
    ['invalid JSON', '{"a":', /^error: --config is not valid JSON: /],
    ['an array', '[1,2]', /^error: --config must be a JSON object, got an array\n/],
    ['null', 'null', /^error: --config must be a JSON object, got null\n/],
    ['a string', '"x"', /^error: --config must be a JSON object, got string\n/],
  ] as const) {
    it(`role assign refuses a config that is ${label}, before any request (exit 2)`, async () => {
      const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', `--config=${config}`], { env });
      assert.equal(run.code, 2);
      assert.match(run.stderr, expected);
      assert.match(run.stderr, /usage: hostplane role assign <hostId> <role>/);
      assert.equal(store.requests.length, 0);
    });
  }

  it('role assign refuses --config together with --config-file', async () => {
    const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', '--config', '{}', '--config-file', 'x.json'], { env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: give either --config or --config-file, not both\n/);
    assert.equal(store.requests.length, 0);
  });

  it('role assign says which config file it cannot read (exit 1)', async () => {
    const run = await runCliCollect(['role', 'assign', 'host-a', 'demo', '--config-file', 'missing.json'], { env, cwd: work });
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `error: cannot read config file ${join(work, 'missing.json')}: ENOENT\n`);
    assert.equal(store.requests.length, 0);
  });

  it('role assign prints HOST_NOT_AUTHORIZED from the store', async () => {
    store.on('PUT', '/v1/hosts/host-b/roles/demo', {
      status: 409,
      json: { error: { code: 'HOST_NOT_AUTHORIZED', message: 'host host-b is not authorized', details: [] } },
    });
    const run = await runCliCollect(['role', 'assign', 'host-b', 'demo'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: HOST_NOT_AUTHORIZED: host host-b is not authorized\n' });
  });

  it('role unassign DELETEs the role', async () => {
    store.on('DELETE', '/v1/hosts/host-a/roles/demo', { status: 200, json: { hostId: 'host-a', role: 'demo', generation: 8 } });
    const run = await runCliCollect(['role', 'unassign', 'host-a', 'demo'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      store.requests.map((r) => [r.method, r.path, r.body.length]),
      [['DELETE', '/v1/hosts/host-a/roles/demo', 0]],
    );
    assert.equal(run.stdout, 'role demo unassigned from host host-a (generation 8)\n');
  });

  it('role retry POSTs to the role and says what it asked for', async () => {
    store.on('POST', '/v1/hosts/host-a/roles/demo/retry', { status: 200, json: { hostId: 'host-a', role: 'demo', generation: 7, retry: 2 } });
    const run = await runCliCollect(['role', 'retry', 'host-a', 'demo'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      store.requests.map((r) => [r.method, r.path, r.body.length]),
      [['POST', '/v1/hosts/host-a/roles/demo/retry', 0]],
    );
    assert.equal(run.stdout, 'host host-a asked to try role demo again now (generation 7, retry 2)\n');
  });

  it('role retry prints NOT_FOUND for a role the host does not have', async () => {
    store.on('POST', '/v1/hosts/host-a/roles/nope/retry', { status: 404, json: { error: { code: 'NOT_FOUND', message: 'role nope is not assigned to host host-a', details: [] } } });
    const run = await runCliCollect(['role', 'retry', 'host-a', 'nope'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: NOT_FOUND: role nope is not assigned to host host-a\n' });
  });

  it('role unassign --json prints the raw answer', async () => {
    store.on('DELETE', '/v1/hosts/host-a/roles/demo', { status: 200, json: { hostId: 'host-a', role: 'demo', generation: 8 } });
    const run = await runCliCollect(['role', 'unassign', 'host-a', 'demo', '--json'], { env });
    assert.deepEqual(JSON.parse(run.stdout), { hostId: 'host-a', role: 'demo', generation: 8 });
  });
});
