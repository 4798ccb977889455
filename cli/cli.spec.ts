import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { usage } from './cli';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';

describe('hostplane CLI', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  for (const argv of [[], ['help'], ['--help'], ['-h']]) {
    it(`"${argv.join(' ')}" prints the usage on stdout and exits 0`, async () => {
      const run = await runCliCollect(argv, { env });
      assert.deepEqual(run, { code: 0, stdout: usage(), stderr: '' });
      assert.equal(store.requests.length, 0);
    });
  }

  it('the usage lists every command', () => {
    for (const synopsis of [
      'hosts list',
      'hosts show <hostId>',
      'authorize <hostId>',
      'deauthorize <hostId>',
      'roles upload <file.tar.gz|folder>',
      'roles list',
      'roles build <folder> [-o FILE]',
      'role assign <hostId> <role> [--version V] [--config JSON] [--config-file F]',
      'role unassign <hostId> <role>',
      'role retry <hostId> <role>',
    ]) {
      assert.ok(usage().includes(`\n  ${synopsis}\n      `), synopsis);
    }
  });

  it('help <command> prints that command with its options', async () => {
    const run = await runCliCollect(['help', 'role', 'assign'], { env });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^usage: hostplane role assign <hostId> <role> \[--version V\]/);
    assert.match(run.stdout, /--config-file F +read the config from a JSON file/);
  });

  it('--help after a group prints only that group', async () => {
    const run = await runCliCollect(['roles', '--help'], { env });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /roles upload/);
    assert.doesNotMatch(run.stdout, /hosts list/);
  });

  it('an unknown command prints the usage on stderr and exits 2', async () => {
    const run = await runCliCollect(['frobnicate', 'x'], { env });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `error: unknown command "frobnicate x"\n\n${usage()}`);
    assert.equal(store.requests.length, 0);
  });

  it('a group without its subcommand names the choices and exits 2', async () => {
    const run = await runCliCollect(['hosts'], { env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: "hosts" needs one of: list, show, delete\n/);
  });

  it('a wrong number of arguments exits 2 with the command usage', async () => {
    const run = await runCliCollect(['hosts', 'show'], { env });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'error: "hosts show" takes <hostId>, got 0 argument(s)\nusage: hostplane hosts show <hostId>\n');
  });

  it('an option of another command exits 2', async () => {
    const run = await runCliCollect(['hosts', 'list', '--version', '1.0.0'], { env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: Unknown option '--version'/);
    assert.equal(store.requests.length, 0);
  });

  it('an unknown option exits 2', async () => {
    const run = await runCliCollect(['hosts', 'list', '--frob'], { env });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: Unknown option '--frob'/);
  });

  it('--api wins over HOSTPLANE_API and PF9_API_PORT', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: [] });
    const run = await runCliCollect(['hosts', 'list', '--api', `${store.url}/`], {
      env: { HOSTPLANE_API: 'http://127.0.0.1:1', PF9_API_PORT: '1' },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(store.requests[0].path, '/v1/hosts');
  });

  it('PF9_API_PORT points at a local plane when HOSTPLANE_API is unset', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: [] });
    const run = await runCliCollect(['hosts', 'list'], { env: { PF9_API_PORT: new URL(store.url).port } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(store.requests.length, 1);
  });

  it('an API error without an error body prints the HTTP status', async () => {
    store.on('GET', '/v1/hosts', { status: 502, text: 'Bad Gateway' });
    const run = await runCliCollect(['hosts', 'list'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: HTTP_502: Bad Gateway\n' });
  });

  it('an answer that is not the contract view exits 1', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: [{ id: 'a' }] });
    const run = await runCliCollect(['hosts', 'list'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: the role store did not answer with a list of hosts\n' });
  });

  it('a role store that is not running is reported as unreachable, exit 1', async () => {
    const url = store.url;
    await store.close();
    store = await FakeRoleStore.start(); // afterEach closes this one
    const run = await runCliCollect(['hosts', 'list'], { env: { HOSTPLANE_API: url } });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      `error: cannot reach the role store at ${url} (ECONNREFUSED)\n  is the plane running? set --api or HOSTPLANE_API to its URL\n`,
    );
  });

  it('a bad HOSTPLANE_API is a usage error', async () => {
    const run = await runCliCollect(['hosts', 'list'], { env: { HOSTPLANE_API: 'localhost:8080' } });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^error: HOSTPLANE_API must be an http\(s\) URL, got "localhost:8080"\n/);
  });
});
