import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { RoleView } from '#contracts';
import { buildPackage, inspectPackage, sha256Hex } from '#role-package';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';

/** A minimal valid role folder. */
async function writeRoleFolder(dir: string, name: string, version: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(join(dir, 'role.json'), JSON.stringify({ name, version, hooks: { configure: 'bin/configure' } }));
  await writeFile(join(dir, 'bin', 'configure'), '#!/bin/sh\ncat > /dev/null\n', { mode: 0o755 });
}

const ROLES: RoleView[] = [
  {
    name: 'demo',
    versions: [
      { version: '1.0.0', sha256: 'a'.repeat(64), uploadedAt: '2025-01-01T10:00:00.000Z' },
      { version: '1.1.0', sha256: 'b'.repeat(64), uploadedAt: '2025-01-02T10:00:00.000Z' },
    ],
  },
  { name: 'keepalived-vip', versions: [{ version: '1.0.0', sha256: 'c'.repeat(64), uploadedAt: '2025-01-03T10:00:00.000Z' }] },
];

describe('roles commands', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  let work: string;
  let roleDir: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'hostplane-cli-'));
    roleDir = join(work, 'demo-role');
    await writeRoleFolder(roleDir, 'demo', '1.0.0');
  });
  after(() => rm(work, { recursive: true, force: true }));
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  /** Answers an upload like the role store would, from the bytes it got. */
  function acceptUploads(): void {
    store.on('POST', '/v1/roles', (request) => ({
      status: 201,
      json: { name: 'demo', version: '1.0.0', sha256: sha256Hex(request.body) },
    }));
  }

  it('roles upload of a file POSTs its bytes as application/gzip and prints name, version, sha256', async () => {
    const pkg = await buildPackage(roleDir);
    await writeFile(join(work, 'demo.tar.gz'), pkg);
    acceptUploads();
    const run = await runCliCollect(['roles', 'upload', 'demo.tar.gz'], { env, cwd: work });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(store.requests.length, 1);
    const [request] = store.requests;
    assert.deepEqual([request.method, request.path, request.contentType], ['POST', '/v1/roles', 'application/gzip']);
    assert.ok(request.body.equals(pkg));
    assert.equal(run.stdout, `Name:     demo\nVersion:  1.0.0\nSHA256:   ${sha256Hex(pkg)}\n`);
  });

  it('roles upload of a folder builds a valid package first', async () => {
    acceptUploads();
    const run = await runCliCollect(['roles', 'upload', roleDir, '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    const uploaded = store.requests[0].body;
    const inspected = await inspectPackage(uploaded);
    assert.equal(inspected.manifest.name, 'demo');
    assert.equal(inspected.manifest.version, '1.0.0');
    assert.deepEqual(JSON.parse(run.stdout), { name: 'demo', version: '1.0.0', sha256: inspected.sha256 });
    assert.equal(uploaded[0], 0x1f, 'gzip magic');
    assert.equal(uploaded[1], 0x8b, 'gzip magic');
  });

  it('roles upload of an invalid folder fails before any request', async () => {
    const bad = join(work, 'bad-role');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'role.json'), JSON.stringify({ name: 'Bad Name', version: '1', hooks: {} }));
    const run = await runCliCollect(['roles', 'upload', bad], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: VALIDATION_FAILED: not a valid role package\n {2}- /);
    assert.equal(store.requests.length, 0);
  });

  it('roles upload of a missing file says so before any request', async () => {
    const run = await runCliCollect(['roles', 'upload', 'nope.tar.gz'], { env, cwd: work });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: `error: cannot read ${join(work, 'nope.tar.gz')}: ENOENT\n` });
    assert.equal(store.requests.length, 0);
  });

  it('roles upload prints the 409 of a version uploaded twice', async () => {
    store.on('POST', '/v1/roles', {
      status: 409,
      json: { error: { code: 'CONFLICT', message: 'demo 1.0.0 is already uploaded', details: [] } },
    });
    const run = await runCliCollect(['roles', 'upload', roleDir], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: CONFLICT: demo 1.0.0 is already uploaded\n' });
  });

  it('roles upload prints the validation details of a 400', async () => {
    store.on('POST', '/v1/roles', {
      status: 400,
      json: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'invalid role package',
          details: ['entry ../x escapes the package', { path: 'hooks.configure', problems: ['is required'] }],
        },
      },
    });
    const run = await runCliCollect(['roles', 'upload', roleDir], { env });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'error: VALIDATION_FAILED: invalid role package\n  - entry ../x escapes the package\n  - hooks.configure: is required\n',
    );
  });

  it('roles upload fails when the store records another sha256 than the one sent', async () => {
    store.on('POST', '/v1/roles', { status: 201, json: { name: 'demo', version: '1.0.0', sha256: '0'.repeat(64) } });
    const run = await runCliCollect(['roles', 'upload', roleDir], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: the role store recorded sha256 0{64}, but the package sent has [0-9a-f]{64}\n$/);
  });

  it('roles list prints one row per version with a short sha256', async () => {
    store.on('GET', '/v1/roles', { status: 200, json: ROLES });
    const run = await runCliCollect(['roles', 'list'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        'NAME            VERSION  SHA256        UPLOADED',
        'demo            1.0.0    aaaaaaaaaaaa  2025-01-01T10:00:00.000Z',
        'demo            1.1.0    bbbbbbbbbbbb  2025-01-02T10:00:00.000Z',
        'keepalived-vip  1.0.0    cccccccccccc  2025-01-03T10:00:00.000Z',
        '',
      ].join('\n'),
    );
  });

  it('roles list --json prints the raw answer', async () => {
    store.on('GET', '/v1/roles', { status: 200, json: ROLES });
    const run = await runCliCollect(['roles', 'list', '--json'], { env });
    assert.deepEqual(JSON.parse(run.stdout), ROLES);
  });

  it('roles build writes the package to -o and prints its sha256, without a request', async () => {
    const out = join(work, 'out.tar.gz');
    const run = await runCliCollect(['roles', 'build', roleDir, '-o', out], { env });
    assert.equal(run.code, 0, run.stderr);
    const written = await readFile(out);
    assert.ok(written.equals(await buildPackage(roleDir)), 'deterministic: same bytes as buildPackage');
    assert.match(run.stdout, new RegExp(`^SHA256: +${sha256Hex(written)}$`, 'm'));
    assert.equal(store.requests.length, 0);
  });

  it('roles build names the file <name>-<version>.tar.gz in the working directory by default', async () => {
    const run = await runCliCollect(['roles', 'build', 'demo-role', '--json'], { env, cwd: work });
    assert.equal(run.code, 0, run.stderr);
    const path = join(work, 'demo-1.0.0.tar.gz');
    const written = await readFile(path);
    assert.deepEqual(JSON.parse(run.stdout), { path, name: 'demo', version: '1.0.0', sha256: sha256Hex(written) });
  });
});
