import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promises as fsPromises } from 'node:fs';
import { join } from 'node:path';
import { resolveLocalUser } from './local-user';
import { atomicWriteTarget, ensurePrivateDir, securePrivateFile, writeFileAtomic } from './private-files';

const modeOf = async (path: string): Promise<number> => (await lstat(path)).mode & 0o7777;

async function scratch(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'private-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Giving a file to another user needs root: said plainly, never skipped. */
function otherUser(): { uid: number; gid: number } {
  assert.equal(process.geteuid?.(), 0, 'giving files to another user needs root: run this test as root');
  return resolveLocalUser('nobody');
}

describe('writeFileAtomic: the one helper for every private file', () => {
  test('writes the file whole with its mode, whatever the umask, and leaves nothing beside it', async (t) => {
    const dir = await scratch(t);
    const file = join(dir, 'secret.json');
    const umask = process.umask(0);
    try {
      assert.equal(await writeFileAtomic(file, '{"password":"p"}\n', 0o600), true);
    } finally {
      process.umask(umask);
    }
    assert.equal(await modeOf(file), 0o600);
    assert.equal(await readFile(file, 'utf8'), '{"password":"p"}\n');
    await writeFileAtomic(file, Buffer.from('second'), 0o600);
    assert.equal(await readFile(file, 'utf8'), 'second');
    assert.deepEqual(await readdir(dir), ['secret.json'], 'no temporary file left behind');
  });

  test('replaces a file that was readable by others with one that is not (the mode is the new file\'s)', async (t) => {
    const dir = await scratch(t);
    const file = join(dir, 'state.json');
    await writeFile(file, 'old', { mode: 0o644 });
    await writeFileAtomic(file, 'new', 0o600);
    assert.equal(await modeOf(file), 0o600);
  });

  test('gives the file to its owner from the start', async (t) => {
    const owner = otherUser();
    const dir = await scratch(t);
    const file = join(dir, 'host.key');
    await writeFileAtomic(file, 'key', 0o600, { owner });
    const info = await stat(file);
    assert.deepEqual([info.uid, info.gid, info.mode & 0o7777], [owner.uid, owner.gid, 0o600]);
  });

  test('noReplace: the first writer wins and a later one is told so', async (t) => {
    const dir = await scratch(t);
    const file = join(dir, 'host_id.conf');
    assert.equal(await writeFileAtomic(file, 'first', 0o644, { noReplace: true }), true);
    assert.equal(await writeFileAtomic(file, 'second', 0o644, { noReplace: true }), false);
    assert.equal(await readFile(file, 'utf8'), 'first');
    assert.deepEqual(await readdir(dir), ['host_id.conf']);
  });

  test('its temporary file is known for the file it becomes; other names are not taken for one', async (t) => {
    const dir = await scratch(t);
    const file = join(dir, 'state.json');
    const renames = t.mock.method(fsPromises, 'rename');
    await writeFileAtomic(file, '{}', 0o600);
    const temporary = String(renames.mock.calls[0]?.arguments[0]);
    assert.notEqual(temporary, file);
    assert.equal(atomicWriteTarget(temporary), file);
    for (const name of [file, `${file}.tmp`, `${file}.next`, join(dir, 'notes.1.2.tmp')]) assert.equal(atomicWriteTarget(name), undefined, name);
  });

  test('a failed write leaves what was there and no temporary file', async (t) => {
    const dir = await scratch(t);
    const target = join(dir, 'broker.json');
    await mkdir(target);
    await writeFile(join(target, 'kept'), 'old');
    await assert.rejects(writeFileAtomic(target, 'new', 0o600), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(await readdir(dir), ['broker.json']);
    assert.equal(await readFile(join(target, 'kept'), 'utf8'), 'old');
  });
});

describe('ensurePrivateDir and securePrivateFile: what is already on disk', () => {
  test('a folder made before with 0755 is closed, and given to its owner', async (t) => {
    const owner = otherUser();
    const dir = join(await scratch(t), 'certs');
    await mkdir(dir, { mode: 0o755 });
    await ensurePrivateDir(dir, 0o700, owner);
    const info = await stat(dir);
    assert.deepEqual([info.uid, info.mode & 0o7777], [owner.uid, 0o700]);
  });

  test('a symbolic link in place of the folder is refused, not followed', async (t) => {
    const base = await scratch(t);
    await mkdir(join(base, 'elsewhere'), { mode: 0o755 });
    await symlink(join(base, 'elsewhere'), join(base, 'certs'));
    await assert.rejects(ensurePrivateDir(join(base, 'certs'), 0o700), /symbolic link/);
    assert.equal(await modeOf(join(base, 'elsewhere')), 0o755);
  });

  test('a file is given its mode and owner; a link or a second name in its place is refused and what it points at left alone', async (t) => {
    const owner = otherUser();
    const base = await scratch(t);
    const file = join(base, 'host.key');
    await writeFile(file, 'key', { mode: 0o644 });
    assert.equal(await securePrivateFile(file, 0o600, owner), true);
    const info = await stat(file);
    assert.deepEqual([info.uid, info.mode & 0o7777], [owner.uid, 0o600]);
    assert.equal(await securePrivateFile(join(base, 'absent'), 0o600, owner), false);

    const victim = join(base, 'victim');
    await writeFile(victim, 'root only', { mode: 0o600 });
    await symlink(victim, join(base, 'ca.crt'));
    await assert.rejects(securePrivateFile(join(base, 'ca.crt'), 0o644, owner), /symbolic link/);
    await link(victim, join(base, 'host.crt'));
    await assert.rejects(securePrivateFile(join(base, 'host.crt'), 0o644, owner), /single name/);
    const untouched = await stat(victim);
    assert.deepEqual([untouched.uid, untouched.mode & 0o7777], [0, 0o600]);
  });
});
