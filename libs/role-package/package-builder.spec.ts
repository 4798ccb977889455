import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Parser, type ReadEntry } from 'tar';
import { buildPackage } from './package-builder';
import { sha256Hex } from './package-digest';
import { extractPackage } from './package-extractor';
import { inspectPackage } from './package-inspector';
import { tempDir, VALID_MANIFEST } from './raw-tar.fixtures';
import { RolePackageError } from './role-package.error';

const LONG_DIR = `share/${'long-directory-name-'.repeat(6)}`;

/** A role folder on disk: role.json, two executable hooks, a data file, a symlink and a path over 100 bytes. */
async function writeRoleFolder(root: string, manifest: unknown = VALID_MANIFEST): Promise<void> {
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, LONG_DIR), { recursive: true });
  await writeFile(join(root, 'role.json'), JSON.stringify(manifest));
  await writeFile(join(root, 'bin', 'configure'), '#!/bin/sh\ncat > config.json\n');
  await writeFile(join(root, 'bin', 'status'), '#!/bin/sh\nexit 0\n');
  await chmod(join(root, 'bin', 'configure'), 0o755);
  await chmod(join(root, 'bin', 'status'), 0o750);
  await writeFile(join(root, LONG_DIR, 'defaults.json'), '{"port": 8080}');
  await chmod(join(root, LONG_DIR, 'defaults.json'), 0o640);
  await symlink('../bin/status', join(root, 'share', 'status'));
}

async function buildRefusal(dir: string): Promise<RolePackageError> {
  const error = await buildPackage(dir).then(
    () => assert.fail('expected the folder to be refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RolePackageError, `expected a RolePackageError, got ${String(error)}`);
  return error;
}

/** Lists a package with node-tar, an independent reader. */
async function listWithNodeTar(buf: Buffer): Promise<ReadEntry[]> {
  const entries: ReadEntry[] = [];
  const parser = new Parser({ strict: true, onReadEntry: (entry) => (entries.push(entry), entry.resume()) });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    Readable.from([buf]).pipe(parser);
  });
  return entries;
}

describe('buildPackage', () => {
  it('builds a package that inspects and extracts back to the same folder', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const role = join(dir, 'role');
    await writeRoleFolder(role);

    const buf = await buildPackage(role);
    const inspected = await inspectPackage(buf);
    assert.deepEqual(
      inspected.entries.map((e) => [e.path, e.type, e.mode]),
      [
        ['bin', 'directory', 0o755],
        ['bin/configure', 'file', 0o755],
        ['bin/status', 'file', 0o750],
        ['role.json', 'file', 0o644],
        ['share', 'directory', 0o755],
        [LONG_DIR, 'directory', 0o755],
        [`${LONG_DIR}/defaults.json`, 'file', 0o640],
        ['share/status', 'symlink', 0o777],
      ],
    );

    const dest = join(dir, 'unpacked');
    await extractPackage(buf, dest, { expectedSha256: sha256Hex(buf) });
    assert.equal((await stat(join(dest, 'bin', 'configure'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dest, 'bin', 'status'))).mode & 0o777, 0o750);
    assert.equal(await readFile(join(dest, LONG_DIR, 'defaults.json'), 'utf8'), '{"port": 8080}');
    assert.equal(await readFile(join(dest, 'share', 'status'), 'utf8'), '#!/bin/sh\nexit 0\n');
  });

  it('gives the same bytes for the same folder, whatever its timestamps', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const role = join(dir, 'role');
    await writeRoleFolder(role);
    const first = await buildPackage(role);
    await utimes(join(role, 'bin', 'configure'), new Date('2031-05-06'), new Date('2031-05-06'));
    await utimes(join(role, 'bin'), new Date('2012-01-02'), new Date('2012-01-02'));
    const second = await buildPackage(role);
    assert.equal(sha256Hex(second), sha256Hex(first));
    assert.ok(second.equals(first));
  });

  it('writes owner 0:0, a fixed mtime and relative paths that another tar reader understands', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const role = join(dir, 'role');
    await writeRoleFolder(role);
    const entries = await listWithNodeTar(await buildPackage(role));
    assert.ok(entries.length === 8);
    for (const entry of entries) {
      assert.equal(entry.uid, 0, entry.path);
      assert.equal(entry.gid, 0, entry.path);
      assert.equal(entry.mtime?.toISOString(), '2000-01-01T00:00:00.000Z', entry.path);
      assert.doesNotMatch(entry.path, /^(\/|\.\/)/);
    }
    assert.ok(entries.some((e) => e.path === `${LONG_DIR}/defaults.json` && e.mode === 0o640));
    assert.ok(entries.some((e) => e.path === 'share/status' && e.type === 'SymbolicLink' && e.linkpath === '../bin/status'));
  });

  it('refuses a folder without role.json', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'configure'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal((await buildRefusal(dir)).message, 'package has no role.json at its root');
  });

  it('refuses a folder whose role.json is invalid', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    await writeRoleFolder(dir, { ...VALID_MANIFEST, version: 'latest' });
    assert.equal((await buildRefusal(dir)).message, 'role.json: version must be a semantic version');
  });

  it('refuses a folder whose hook is not executable', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    await writeRoleFolder(dir);
    await chmod(join(dir, 'bin', 'configure'), 0o644);
    assert.equal((await buildRefusal(dir)).message, "hook configure: 'bin/configure' is not executable");
  });

  it('refuses a folder with a symlink that leaves it', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    await writeRoleFolder(dir);
    await symlink('/etc/passwd', join(dir, 'passwd'));
    assert.equal((await buildRefusal(dir)).message, "link 'passwd' has an absolute target ('/etc/passwd')");
  });
});
