import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import { sha256Hex } from './package-digest';
import { inspectPackage } from './package-inspector';
import { paxHeaderBomb, paxMember, rawMember, rawPackage, rawTar, tempDir, VALID_MANIFEST, validRoleEntries, type RawEntry } from './raw-tar.fixtures';
import { RolePackageError } from './role-package.error';
import type { InspectOptions } from './package-entry';

/** GNU tar, as an operator would use it by hand; the test that needs it is skipped where it is missing. */
const gnuTar = ((): boolean => {
  try {
    return execFileSync('tar', ['--version'], { encoding: 'utf8' }).includes('GNU tar');
  } catch {
    return false;
  }
})();

async function refusal(buf: Buffer, options?: InspectOptions): Promise<RolePackageError> {
  const error = await inspectPackage(buf, options).then(
    () => assert.fail('expected the package to be refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RolePackageError, `expected a RolePackageError, got ${String(error)}`);
  assert.equal(error.code, 'VALIDATION_FAILED');
  return error;
}

/** The manifest as JSON would carry it (the validated instance has every optional hook as an own undefined property). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** The valid role plus `extra` members. */
function roleWith(...extra: RawEntry[]): Buffer {
  return rawPackage([...validRoleEntries(), ...extra]);
}

function withManifest(manifest: unknown): Buffer {
  return rawPackage(validRoleEntries(manifest));
}

describe('inspectPackage accepts', () => {
  it('a valid package, listing its entries, manifest and sha256', async () => {
    const buf = roleWith({ name: 'lib/', type: '5', mode: 0o750 }, { name: 'lib/helper', type: '2', linkname: '../bin/status' });
    const inspected = await inspectPackage(buf);
    assert.equal(inspected.sha256, sha256Hex(buf));
    assert.match(inspected.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(plain(inspected.manifest), VALID_MANIFEST);
    assert.deepEqual(inspected.entries, [
      { path: 'role.json', type: 'file', size: JSON.stringify(VALID_MANIFEST).length, mode: 0o644 },
      { path: 'bin', type: 'directory', size: 0, mode: 0o755 },
      { path: 'bin/configure', type: 'file', size: 28, mode: 0o755 },
      { path: 'bin/status', type: 'file', size: 17, mode: 0o755 },
      { path: 'lib', type: 'directory', size: 0, mode: 0o750 },
      { path: 'lib/helper', type: 'symlink', size: 0, mode: 0o644, linkTarget: '../bin/status' },
    ]);
  });

  it('paths written with a leading ./ and a ./ root entry', async () => {
    const entries = validRoleEntries().map((entry) => ({ ...entry, name: `./${entry.name}` }));
    const inspected = await inspectPackage(rawPackage([{ name: './', type: '5', mode: 0o755 }, ...entries]));
    assert.deepEqual(
      inspected.entries.map((e) => e.path),
      ['role.json', 'bin', 'bin/configure', 'bin/status'],
    );
  });

  it('a package written by another packer (node-tar, pax headers for a long path)', async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const role = join(dir, 'role');
    const deep = join(role, 'share', 'x'.repeat(90), 'y'.repeat(90));
    await mkdir(join(role, 'bin'), { recursive: true });
    await mkdir(deep, { recursive: true });
    await writeFile(join(role, 'role.json'), JSON.stringify(VALID_MANIFEST));
    await writeFile(join(role, 'bin', 'configure'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(role, 'bin', 'status'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(deep, 'data.txt'), 'deep');
    const file = join(dir, 'role.tar.gz');
    await createTar({ gzip: true, cwd: role, file, portable: true }, ['.']);
    const inspected = await inspectPackage(await readFile(file));
    assert.ok(inspected.entries.some((e) => e.path === `share/${'x'.repeat(90)}/${'y'.repeat(90)}/data.txt` && e.size === 4));
  });

  for (const format of ['gnu', 'posix']) {
    it(`a package made with GNU tar --format=${format} (long names, hard links, ./ paths)`, async (t) => {
      assert.ok(gnuTar, 'GNU tar is needed for this test (Debian: apt-get install tar)');
      const dir = await tempDir((fn) => t.after(fn));
      const role = join(dir, 'role');
      const longName = `share/${'n'.repeat(120)}`;
      await mkdir(join(role, 'bin'), { recursive: true });
      await writeFile(join(role, 'role.json'), JSON.stringify(VALID_MANIFEST));
      await writeFile(join(role, 'bin', 'configure'), '#!/bin/sh\n', { mode: 0o755 });
      await link(join(role, 'bin', 'configure'), join(role, 'bin', 'status'));
      await mkdir(join(role, 'share'));
      await writeFile(join(role, longName), 'long');
      const file = join(dir, 'role.tar.gz');
      execFileSync('tar', [`--format=${format}`, '--sort=name', '-czf', file, '-C', role, '.']);
      const inspected = await inspectPackage(await readFile(file));
      assert.ok(inspected.entries.some((e) => e.path === longName && e.type === 'file'));
      assert.ok(inspected.entries.some((e) => e.path === 'bin/status' && e.type === 'hardlink' && e.linkTarget === 'bin/configure'));
    });
  }

  it('a hook that is a symlink to an executable file in the package', async () => {
    const manifest = { ...VALID_MANIFEST, hooks: { configure: 'hooks/configure' } };
    const buf = rawPackage([
      ...validRoleEntries(manifest),
      { name: 'hooks/', type: '5', mode: 0o755 },
      { name: 'hooks/configure', type: '2', linkname: '../bin/configure' },
    ]);
    assert.equal((await inspectPackage(buf)).manifest.hooks.configure, 'hooks/configure');
  });

  it('a hook that is a hard link to an executable file in the package', async () => {
    const manifest = { ...VALID_MANIFEST, hooks: { configure: 'bin/configure', stop: 'bin/stop' } };
    const buf = rawPackage([...validRoleEntries(manifest), { name: 'bin/stop', type: '1', linkname: 'bin/configure', mode: 0 }]);
    assert.equal((await inspectPackage(buf)).manifest.hooks.stop, 'bin/stop');
  });

  it('unknown manifest fields, dropping them', async () => {
    const inspected = await inspectPackage(withManifest({ ...VALID_MANIFEST, description: 'extra' }));
    assert.deepEqual(plain(inspected.manifest), VALID_MANIFEST);
  });
});

describe('inspectPackage refuses', () => {
  it('a package that is not gzip-compressed', async () => {
    const error = await refusal(rawTar(validRoleEntries()));
    assert.equal(error.message, 'package is not gzip-compressed');
  });

  it('a truncated gzip stream', async () => {
    const buf = roleWith();
    assert.match((await refusal(buf.subarray(0, buf.length - 12))).message, /^package is not valid gzip/);
  });

  it('gzip that is not a tar archive', async () => {
    assert.match((await refusal(gzipSync('just some text, not a tar'))).message, /^package is not a valid tar archive/);
    assert.match((await refusal(gzipSync(Buffer.alloc(2048, 'a')))).message, /^package is not a valid tar archive \(no tar header at byte 0/);
  });

  it('a package without role.json at its root', async () => {
    const entries = validRoleEntries().map((entry) => (entry.name === 'role.json' ? { ...entry, name: 'etc/role.json' } : entry));
    assert.equal((await refusal(rawPackage(entries))).message, 'package has no role.json at its root');
  });

  it('a role.json that is not valid JSON', async () => {
    const entries = validRoleEntries().map((entry) => (entry.name === 'role.json' ? { ...entry, content: '{"name": "demo",' } : entry));
    assert.match((await refusal(rawPackage(entries))).message, /^role\.json is not valid JSON: /);
  });

  it('a role.json that is not an object', async () => {
    assert.equal((await refusal(withManifest(['demo']))).message, 'role.json must hold a JSON object');
  });

  it('a role.json whose hooks are an array, or that carries __proto__, or nests without end', async () => {
    assert.deepEqual((await refusal(withManifest({ ...VALID_MANIFEST, hooks: [] }))).details, ['role.json: hooks must be a JSON object']);
    const entries = (content: string) => validRoleEntries().map((entry) => (entry.name === 'role.json' ? { ...entry, content } : entry));
    assert.match((await refusal(rawPackage(entries('{"name":"demo","version":"1.0.0","hooks":{"configure":"bin/configure","__proto__":{"x":1}}}')))).message, /__proto__ is not allowed/);
    assert.match((await refusal(rawPackage(entries(`{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`)))).message, /^role\.json: x.* nests deeper than 64 levels/);
  });

  it('a role.json with a bad name', async () => {
    const error = await refusal(withManifest({ ...VALID_MANIFEST, name: 'Demo_Role' }));
    assert.deepEqual(error.details, ['role.json: name must match ^[a-z0-9][a-z0-9-]{0,62}$']);
  });

  it('a role.json with a bad version', async () => {
    const error = await refusal(withManifest({ ...VALID_MANIFEST, version: '1.0' }));
    assert.equal(error.message, 'role.json: version must be a semantic version');
  });

  it('a role.json without a configure hook', async () => {
    const error = await refusal(withManifest({ ...VALID_MANIFEST, hooks: { status: 'bin/status' } }));
    assert.deepEqual(error.details, ['role.json: hooks.configure must be a relative path inside the package']);
  });

  it('a role.json without hooks, reporting every problem', async () => {
    const error = await refusal(withManifest({ name: '-bad', version: 'x' }));
    assert.equal(error.details.length, 3);
    assert.ok(error.details.includes('role.json: hooks is required'), error.details.join(' | '));
  });

  it('a role.json that is not a regular file', async () => {
    const buf = rawPackage([{ name: 'real.json', content: JSON.stringify(VALID_MANIFEST) }, { name: 'role.json', type: '2', linkname: 'real.json' }]);
    assert.equal((await refusal(buf)).message, 'role.json must be a regular file, not a symlink');
  });

  it('an entry with a .. segment', async () => {
    assert.equal((await refusal(roleWith({ name: '../x', content: 'x' }))).message, "entry '../x' leaves the package");
    assert.equal((await refusal(roleWith({ name: 'bin/../../x' }))).message, "entry 'bin/../../x' leaves the package");
  });

  it('an entry .. hidden in a pax path', async () => {
    const buf = rawPackage([...validRoleEntries(), paxMember({ path: 'a/../../x' }), { name: 'innocent' }]);
    assert.equal((await refusal(buf)).message, "entry 'a/../../x' leaves the package");
  });

  it('an entry with an absolute path', async () => {
    assert.equal((await refusal(roleWith({ name: '/etc/passwd', content: 'root::0:0' }))).message, "entry '/etc/passwd' has an absolute path");
  });

  it('a symlink that points outside the package', async () => {
    const error = await refusal(roleWith({ name: 'bin/a', type: '2', linkname: '../../etc' }));
    assert.equal(error.message, "link 'bin/a' points outside the package (to '../../etc')");
  });

  it('a symlink with an absolute target', async () => {
    const error = await refusal(roleWith({ name: 'a', type: '2', linkname: '/etc/passwd' }));
    assert.equal(error.message, "link 'a' has an absolute target ('/etc/passwd')");
  });

  it('a symlink that escapes by way of another symlink', async () => {
    // 'deep/er/up' -> '../..' is the package root; 'b' -> 'deep/er/up/../x' then climbs one above it.
    const error = await refusal(
      roleWith(
        { name: 'deep/er/', type: '5' },
        { name: 'deep/er/up', type: '2', linkname: '../..' },
        { name: 'b', type: '2', linkname: 'deep/er/up/../x' },
      ),
    );
    assert.equal(error.message, "link 'b' points outside the package (to 'deep/er/up/../x')");
  });

  it('a symlink loop', async () => {
    const error = await refusal(roleWith({ name: 'a', type: '2', linkname: 'b' }, { name: 'b', type: '2', linkname: 'a' }));
    assert.deepEqual(error.details, ["link 'a' is part of a symlink loop", "link 'b' is part of a symlink loop"]);
  });

  it('a hard link that points outside the package', async () => {
    const error = await refusal(roleWith({ name: 'h', type: '1', linkname: '../../etc/shadow' }));
    assert.equal(error.message, "link 'h' points outside the package (to '../../etc/shadow')");
  });

  it('a hard link with an absolute target', async () => {
    const error = await refusal(roleWith({ name: 'h', type: '1', linkname: '/etc/shadow' }));
    assert.equal(error.message, "link 'h' has an absolute target ('/etc/shadow')");
  });

  it('a hard link to something that is not an earlier regular file', async () => {
    const error = await refusal(roleWith({ name: 'h', type: '1', linkname: 'later' }, { name: 'later', content: 'x' }));
    assert.equal(error.message, "hardlink 'h' points to 'later', which is not a regular file before it in the package");
  });

  it('device and FIFO entries', async () => {
    const error = await refusal(roleWith({ name: 'null', type: '3' }, { name: 'disk', type: '4' }, { name: 'pipe', type: '6' }));
    assert.deepEqual(error.details, ["entry 'null' is a character device", "entry 'disk' is a block device", "entry 'pipe' is a FIFO"]);
  });

  it('entry types it does not know', async () => {
    assert.equal((await refusal(roleWith({ name: 'sparse', type: 'S' }))).message, "entry 'sparse' has an unsupported type ('S')");
  });

  it('an entry that appears twice', async () => {
    const error = await refusal(roleWith({ name: './bin/configure', mode: 0o755, content: 'replaced' }));
    assert.equal(error.message, "entry 'bin/configure' appears more than once");
  });

  it('an entry under a symlink, which extraction would have to write through', async () => {
    const error = await refusal(roleWith({ name: 'd', type: '2', linkname: 'bin' }, { name: 'd/x', content: 'x' }));
    assert.equal(error.message, "entry 'd/x' is inside 'd', which is a symlink, not a directory");
  });

  it('a link that carries data', async () => {
    const error = await refusal(roleWith({ name: 'l', type: '2', linkname: 'bin', content: 'data' }));
    assert.equal(error.message, "entry 'l' is a symlink but carries 4 bytes of data");
  });

  it('a hook that is not in the package', async () => {
    const entries = validRoleEntries().filter((entry) => entry.name !== 'bin/configure');
    assert.equal((await refusal(rawPackage(entries))).message, "hook configure: 'bin/configure' is not in the package");
  });

  it('a hook that is not executable', async () => {
    const entries = validRoleEntries().map((entry) => (entry.name === 'bin/configure' ? { ...entry, mode: 0o644 } : entry));
    assert.equal((await refusal(rawPackage(entries))).message, "hook configure: 'bin/configure' is not executable");
  });

  it('a hook that is a symlink to a file that is not executable, or to nothing', async () => {
    const manifest = { ...VALID_MANIFEST, hooks: { configure: 'hooks/configure', stop: 'hooks/stop' } };
    const error = await refusal(
      rawPackage([
        ...validRoleEntries(manifest),
        { name: 'role-notes', content: 'not a script' },
        { name: 'hooks/configure', type: '2', linkname: '../role-notes' },
        { name: 'hooks/stop', type: '2', linkname: 'missing' },
      ]),
    );
    assert.deepEqual(error.details, [
      "hook configure: 'hooks/configure' is not executable",
      "hook stop: 'hooks/stop' is not in the package (it resolves to 'hooks/missing')",
    ]);
  });

  it('a hook that is a directory', async () => {
    const error = await refusal(withManifest({ ...VALID_MANIFEST, hooks: { configure: 'bin' } }));
    assert.equal(error.message, "hook configure: 'bin' is a directory, not a regular file");
  });

  it('more entries than allowed', async () => {
    assert.equal((await refusal(roleWith(), { maxEntries: 3 })).message, 'package has more than 3 entries');
  });

  it('more unpacked bytes than allowed, before reading them', async () => {
    // The header claims a gigabyte that is not even there: the limit is applied to the header.
    const buf = rawPackage([...validRoleEntries(), { name: 'big', size: 1024 ** 3 }], { endMarker: false });
    assert.equal((await refusal(buf, { maxUnpackedBytes: 1024 * 1024 })).message, 'package unpacks to more than 1048576 bytes');
  });

  it('with every reason it found, not just the first', async () => {
    const error = await refusal(roleWith({ name: '/abs' }, { name: '../up' }, { name: 'l', type: '2', linkname: '/' }));
    assert.deepEqual(error.details, ["entry '/abs' has an absolute path", "entry '../up' leaves the package", "link 'l' has an absolute target ('/')"]);
    assert.equal(error.message, error.details.join('; '));
  });
});

describe('inspectPackage bounds everything it inflates', () => {
  it('refuses a gzip bomb of pax global headers (about 1.5 MB inflating to 800 MB) within seconds and bounded memory', async () => {
    // A valid role, then global headers that each carry a 60 KiB comment: nothing that sets a member's size.
    const bomb = paxHeaderBomb();
    assert.ok(bomb.buf.length < 2 * 1024 * 1024 && bomb.inflatedBytes > 700 * 1024 * 1024, `${bomb.buf.length} bytes inflating to ${bomb.inflatedBytes}`);
    const peakBefore = process.resourceUsage().maxRSS;
    const started = performance.now();
    const error = await refusal(bomb.buf);
    const elapsedMs = performance.now() - started;
    const peakGrowthMiB = (process.resourceUsage().maxRSS - peakBefore) / 1024;
    assert.equal(error.message, "package's extended headers (pax, GNU long names) take more than 16777216 bytes");
    assert.ok(elapsedMs < 3000, `refused after ${Math.round(elapsedMs)} ms`);
    assert.ok(peakGrowthMiB < 64, `peak memory grew by ${peakGrowthMiB} MiB`);
  });

  it('counts pax extended headers toward the same budget as global ones', async () => {
    // 300 members, each with its own 60 KiB pax header: every path distinct and valid.
    const comment = 'c'.repeat(60 * 1024);
    const members = [...Array(300).keys()].flatMap((i) => [paxMember({ path: `data/f${i}`, comment }), rawMember({ name: `data/f${i}`, content: 'x' })]);
    const error = await refusal(rawPackage([...validRoleEntries(), { name: 'data/', type: '5', mode: 0o755 }, ...members]));
    assert.equal(error.message, "package's extended headers (pax, GNU long names) take more than 16777216 bytes");
  });

  it('counts every inflated byte toward maxUnpackedBytes: header blocks, padding and end blocks, not only file content', async () => {
    const buf = roleWith();
    const tarBytes = rawTar(validRoleEntries()).length;
    assert.equal((await inspectPackage(buf, { maxUnpackedBytes: tarBytes })).manifest.name, 'demo');
    assert.equal((await refusal(buf, { maxUnpackedBytes: tarBytes - 1 })).message, `package unpacks to more than ${tarBytes - 1} bytes`);
  });

  it('counts global pax headers as entries', async () => {
    const buf = rawPackage([paxMember({ comment: 'one' }, 'g'), paxMember({ comment: 'two' }, 'g'), ...validRoleEntries()]);
    assert.equal((await refusal(buf, { maxEntries: 5 })).message, 'package has more than 5 entries');
  });
});
