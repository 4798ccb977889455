import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { usage } from './cli';
import { resolveToken } from './cli.config';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';

const CREATED = { id: '0b7d3c1e-7d8f-4f5e-9b7a-4c1d2e3f4a5b', name: 'ci', role: 'operator', token: `hp_${'T'.repeat(43)}`, expiresAt: null };
const LISTED = [{ id: CREATED.id, name: 'ci', role: 'operator', createdAt: '2026-12-07T10:00:00.000Z', expiresAt: null, revokedAt: null }];

describe('token commands', () => {
  let store: FakeRoleStore;
  let env: Record<string, string>;
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url, HOSTPLANE_TOKEN: 'admin-secret' };
  });
  afterEach(() => store.close());

  it('token create POSTs name, role and ttlS with the operator token, and prints the new token alone', async () => {
    store.on('POST', '/v1/tokens', { status: 201, json: CREATED });
    const run = await runCliCollect(['token', 'create', '--name', 'ci', '--role', 'operator', '--ttl', '3600'], { env });
    assert.deepEqual(run, { code: 0, stdout: `${CREATED.token}\n`, stderr: '' });
    assert.deepEqual(JSON.parse(store.requests[0]!.body.toString()), { name: 'ci', role: 'operator', ttlS: 3600 });
    assert.equal(store.requests[0]!.authorization, 'Bearer admin-secret');
  });

  for (const args of [['--role', 'operator'], ['--name', 'ci'], ['--name', 'ci', '--role', 'root'], ['--name', 'Bad Name', '--role', 'viewer'], ['--name', 'ci', '--role', 'viewer', '--ttl', '0'], ['--name', 'ci', '--role', 'viewer', '--ttl', '1h']]) {
    it(`token create ${args.join(' ')} is a usage error and sends nothing`, async () => {
      const run = await runCliCollect(['token', 'create', ...args], { env });
      assert.equal(run.code, 2, run.stderr);
      assert.equal(store.requests.length, 0);
    });
  }

  it('token list prints a table without secrets; token revoke DELETEs the id', async () => {
    store.on('GET', '/v1/tokens', { status: 200, json: LISTED });
    store.on('DELETE', `/v1/tokens/${CREATED.id}`, { status: 200, json: { ...LISTED[0], revokedAt: '2026-12-07T11:00:00.000Z' } });
    const list = await runCliCollect(['token', 'list'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+NAME\s+ROLE/);
    assert.match(list.stdout, /ci\s+operator/);
    const revoke = await runCliCollect(['token', 'revoke', CREATED.id], { env });
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /revoked at 2026-12-07T11:00:00.000Z/);
  });

  it('a 401 or 403 from the plane is printed with its code and exits 1', async () => {
    store.on('GET', '/v1/tokens', { status: 403, json: { error: { code: 'FORBIDDEN', message: 'a operator may not do this: it needs the admin role', details: [] } } });
    const run = await runCliCollect(['token', 'list'], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /FORBIDDEN/);
  });

  it('is in the usage', () => {
    assert.match(usage(), /token create/);
    assert.match(usage(), /audit verify/);
  });
});

describe('where the CLI finds its token (CONTRACT.md section 8)', () => {
  let store: FakeRoleStore;
  let dir: string;
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    store.on('GET', '/v1/tokens', { status: 200, json: [] });
    dir = mkdtempSync(join(tmpdir(), 'hostplane-token-'));
    await mkdir(join(dir, '.data/plane'), { recursive: true });
    await writeFile(join(dir, '.data/plane/admin.token'), 'from-data-dir\n');
    await writeFile(join(dir, 'token-file'), 'from-file\nsecond line ignored\n');
  });
  afterEach(() => store.close());

  const sent = async (argv: string[], env: Record<string, string>): Promise<string | undefined> => {
    const run = await runCliCollect([...argv, 'token', 'list'], { env: { HOSTPLANE_API: store.url, ...env }, cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    return store.requests.at(-1)!.authorization;
  };

  it('--token, else HOSTPLANE_TOKEN, else HOSTPLANE_TOKEN_FILE, else <PF9_DATA_DIR>/admin.token (./.data/plane by default)', async () => {
    assert.equal(await sent(['--token', 'from-flag'], { HOSTPLANE_TOKEN: 'from-env', HOSTPLANE_TOKEN_FILE: 'token-file' }), 'Bearer from-flag');
    assert.equal(await sent([], { HOSTPLANE_TOKEN: 'from-env', HOSTPLANE_TOKEN_FILE: 'token-file' }), 'Bearer from-env');
    assert.equal(await sent([], { HOSTPLANE_TOKEN_FILE: 'token-file' }), 'Bearer from-file');
    assert.equal(await sent([], {}), 'Bearer from-data-dir');
    await mkdir(join(dir, 'elsewhere'));
    await writeFile(join(dir, 'elsewhere/admin.token'), 'from-pf9-data-dir\n');
    assert.equal(await sent([], { PF9_DATA_DIR: 'elsewhere' }), 'Bearer from-pf9-data-dir');
    assert.equal(await sent([], { PF9_DATA_DIR: 'nowhere' }), undefined, 'none: no header at all');
  });

  it('a token file that cannot be read, or a token with control characters, is a usage error and nothing is sent', async () => {
    for (const env of [{ HOSTPLANE_TOKEN_FILE: 'missing' }, { HOSTPLANE_TOKEN: 'a\u001bb' }]) {
      const run = await runCliCollect(['token', 'list'], { env: { HOSTPLANE_API: store.url, ...env }, cwd: dir });
      assert.equal(run.code, 2, JSON.stringify(env));
    }
    assert.equal(store.requests.length, 0);
  });

  it("the plane's own admin.token goes only to a plane on this machine, and must hold a token", () => {
    const read = (file: string): string => {
      if (file.endsWith('.data/plane/admin.token')) return 'local-admin\n';
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    };
    for (const url of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']) assert.equal(resolveToken(undefined, {}, '/srv', url, read), 'local-admin', url);
    for (const url of ['https://plane.example.com', 'http://10.0.0.5:8080', 'http://127.0.0.1.attacker.example']) assert.equal(resolveToken(undefined, {}, '/srv', url, read), undefined, url);
    assert.equal(resolveToken(undefined, { HOSTPLANE_TOKEN: 'explicit' }, '/srv', 'https://plane.example.com', read), 'explicit', 'named by the user: sent where the user says');
    assert.throws(() => resolveToken(undefined, {}, '/srv', 'http://127.0.0.1:8080', () => 'a\u001bb\n'), /does not hold a token/);
  });
});
