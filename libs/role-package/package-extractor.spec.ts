import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from './package-digest';
import { extractPackage } from './package-extractor';
import { paxHeaderBomb, rawPackage, tempDir, validRoleEntries, type RawEntry } from './raw-tar.fixtures';
import { RolePackageError } from './role-package.error';

function roleWith(...extra: RawEntry[]): Buffer {
  return rawPackage([...validRoleEntries(), ...extra]);
}

async function assertRefusedLeavingNothing(buf: Buffer, parent: string, sha?: string): Promise<RolePackageError> {
  const dest = join(parent, 'roles', 'demo');
  const error = await extractPackage(buf, dest, sha === undefined ? {} : { expectedSha256: sha }).then(
    () => assert.fail('expected the package to be refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RolePackageError, `expected a RolePackageError, got ${String(error)}`);
  await assert.rejects(lstat(dest), { code: 'ENOENT' });
  assert.deepEqual(await readdir(parent), [], 'nothing at all was written, not even the parent or a staging directory');
  return error;
}

describe('extractPackage', () => {
  it('unpacks files, directories and links, keeping permission bits', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const buf = roleWith(
      { name: 'lib/', type: '5', mode: 0o750 },
      { name: 'lib/data', mode: 0o600, content: 'secret' },
      { name: 'lib/status-link', type: '2', linkname: '../bin/status' },
      { name: 'bin/configure-again', type: '1', linkname: 'bin/configure' },
      { name: 'share/deep/readonly/file', mode: 0o444, content: 'r' },
      { name: 'share/deep/readonly/', type: '5', mode: 0o555 },
      { name: 'setuid', mode: 0o4755, content: 'no privileges from packages' },
    );
    const dest = join(dir, 'roles', 'demo', '1.0.0');

    const inspected = await extractPackage(buf, dest, { expectedSha256: sha256Hex(buf) });

    assert.equal(inspected.sha256, sha256Hex(buf));
    assert.equal(await readFile(join(dest, 'bin', 'configure'), 'utf8'), '#!/bin/sh\ncat > config.json\n');
    assert.equal((await stat(join(dest, 'bin', 'configure'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(dest, 'role.json'))).mode & 0o7777, 0o644);
    assert.equal((await stat(join(dest, 'lib'))).mode & 0o7777, 0o750);
    assert.equal((await stat(join(dest, 'lib', 'data'))).mode & 0o7777, 0o600);
    assert.equal((await stat(join(dest, 'share', 'deep', 'readonly'))).mode & 0o7777, 0o555);
    assert.equal((await stat(join(dest, 'share', 'deep', 'readonly', 'file'))).mode & 0o7777, 0o444);
    assert.equal((await stat(join(dest, 'setuid'))).mode & 0o7777, 0o755, 'setuid is not carried over');
    assert.equal(await readlink(join(dest, 'lib', 'status-link')), '../bin/status');
    assert.equal(await readFile(join(dest, 'lib', 'status-link'), 'utf8'), '#!/bin/sh\nexit 0\n');
    assert.equal((await stat(join(dest, 'bin', 'configure-again'))).ino, (await stat(join(dest, 'bin', 'configure'))).ino);
    assert.deepEqual(await readdir(join(dir, 'roles', 'demo')), ['1.0.0'], 'the staging directory is gone');
  });

  it('accepts the expected sha256 in upper case', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const buf = roleWith();
    await extractPackage(buf, join(dir, 'demo'), { expectedSha256: sha256Hex(buf).toUpperCase() });
    assert.ok((await stat(join(dir, 'demo', 'role.json'))).isFile());
  });

  it('refuses a package whose sha256 differs from the expected one, writing nothing', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const buf = roleWith();
    const expected = sha256Hex(Buffer.from('another package'));
    const error = await assertRefusedLeavingNothing(buf, dir, expected);
    assert.equal(error.message, `sha256 mismatch: expected ${expected}, got ${sha256Hex(buf)}`);
  });

  it('refuses a package whose last entry is unsafe, writing nothing', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const error = await assertRefusedLeavingNothing(roleWith({ name: 'evil', type: '2', linkname: '../../../etc' }), dir);
    assert.equal(error.message, "link 'evil' points outside the package (to '../../../etc')");
  });

  it('refuses an invalid role, writing nothing', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const entries = validRoleEntries().map((entry) => (entry.name === 'bin/configure' ? { ...entry, mode: 0o644 } : entry));
    const error = await assertRefusedLeavingNothing(rawPackage(entries), dir);
    assert.equal(error.message, "hook configure: 'bin/configure' is not executable");
  });

  it('refuses to extract over an existing directory, leaving it alone', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const dest = join(dir, 'demo');
    await mkdir(dest);
    await assert.rejects(extractPackage(roleWith(), dest), /already exists/);
    assert.deepEqual(await readdir(dest), []);
    assert.deepEqual(await readdir(dir), ['demo']);
  });

  it('refuses a gzip bomb (1.5 MB inflating to 800 MB of pax headers) before writing anything', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const bomb = paxHeaderBomb();
    const started = performance.now();
    const error = await assertRefusedLeavingNothing(bomb.buf, dir);
    assert.equal(error.message, "package's extended headers (pax, GNU long names) take more than 16777216 bytes");
    assert.ok(performance.now() - started < 3000, 'refused within seconds');
  });

  it('leaves nothing group- or world-writable and no setuid, setgid or sticky bit, whatever the tar says and whatever the umask', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const buf = roleWith(
      { name: 'open/', type: '5', mode: 0o777 },
      { name: 'open/file', mode: 0o777, content: 'w' },
      { name: 'open/setuid', mode: 0o4777, content: 's' },
      { name: 'open/setgid', mode: 0o2775, content: 'g' },
      { name: 'sticky/', type: '5', mode: 0o1777 },
      { name: 'sgid-dir/', type: '5', mode: 0o2777 },
      { name: 'implicit/parents/file', mode: 0o666, content: 'its folders are not in the archive' },
    );
    const dest = join(dir, 'created', 'by', 'extract', 'demo');
    const umask = process.umask(0);
    try {
      await extractPackage(buf, dest);
    } finally {
      process.umask(umask);
    }
    const modes = new Map<string, number>();
    for (const path of ['created', 'created/by', 'created/by/extract', 'created/by/extract/demo']) modes.set(path, (await stat(join(dir, path))).mode & 0o7777);
    for (const path of ['open', 'open/file', 'open/setuid', 'open/setgid', 'sticky', 'sgid-dir', 'implicit', 'implicit/parents', 'implicit/parents/file']) {
      modes.set(path, (await stat(join(dest, path))).mode & 0o7777);
    }
    assert.deepEqual(Object.fromEntries(modes), {
      created: 0o755,
      'created/by': 0o755,
      'created/by/extract': 0o755,
      'created/by/extract/demo': 0o755,
      open: 0o755,
      'open/file': 0o755,
      'open/setuid': 0o755,
      'open/setgid': 0o755,
      sticky: 0o755,
      'sgid-dir': 0o755,
      implicit: 0o755,
      'implicit/parents': 0o755,
      'implicit/parents/file': 0o644,
    });
  });
});
