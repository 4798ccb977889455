import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveLocalUser } from './local-user';
import { prepareSocketPath, socketFolderProblem, trustedSocketPath } from './socket-folder';

const me = process.geteuid?.() ?? 0;

async function scratch(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'socket-folder-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Another user's folder needs root to make: said plainly, never skipped. */
function nobody(): { uid: number; gid: number } {
  assert.equal(me, 0, 'folders of another user need root to make: run this test as root');
  return resolveLocalUser('nobody');
}

/** A socket whose process died without removing it (a crash, SIGKILL). */
function staleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script, path]);
}

describe('socketFolderProblem', () => {
  test('a listener needs a folder of its own closed to others; a client one that nobody else can write', async (t) => {
    const base = await scratch(t);
    const dir = join(base, 'comms');
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    assert.equal(await socketFolderProblem(dir, { owners: [me], use: 'listen' }), null);
    assert.equal(await socketFolderProblem(dir, { owners: [me], use: 'connect' }), null);
    await chmod(dir, 0o750);
    assert.match((await socketFolderProblem(dir, { owners: [me], use: 'listen' })) ?? '', /open to other users \(mode 0750; it must be 0700\)/);
    assert.equal(await socketFolderProblem(dir, { owners: [me], use: 'connect' }), null);
    for (const mode of [0o770, 0o707, 0o1777]) {
      await chmod(dir, mode);
      assert.match((await socketFolderProblem(dir, { owners: [me], use: 'connect' })) ?? '', /writable by other users/, mode.toString(8));
    }
  });

  test('another user\'s folder is refused unless that user is trusted', async (t) => {
    const other = nobody();
    const dir = join(await scratch(t), 'squatted');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, other.uid, other.gid);
    assert.match((await socketFolderProblem(dir, { owners: [me], use: 'connect' })) ?? '', new RegExp(`owned by uid ${other.uid}, not by root`));
    assert.equal(await socketFolderProblem(dir, { owners: [other.uid], use: 'connect' }), null);
  });

  test('a link, a file, a missing folder, a relative path, and a folder above that others can swap are refused', async (t) => {
    const base = await scratch(t);
    await mkdir(join(base, 'real'), { mode: 0o700 });
    await symlink(join(base, 'real'), join(base, 'link'));
    await writeFile(join(base, 'file'), '');
    assert.match((await socketFolderProblem(join(base, 'link'), { owners: [me], use: 'connect' })) ?? '', /symbolic link/);
    assert.match((await socketFolderProblem(join(base, 'file'), { owners: [me], use: 'connect' })) ?? '', /not a folder/);
    assert.match((await socketFolderProblem(join(base, 'absent'), { owners: [me], use: 'connect' })) ?? '', /does not exist/);
    assert.match((await socketFolderProblem('run/pf9-comms', { owners: [me], use: 'connect' })) ?? '', /not an absolute path/);
    // Anyone may rename what is in a world-writable folder without the sticky bit: the socket folder with it.
    const open = join(base, 'open');
    await mkdir(join(open, 'comms'), { recursive: true, mode: 0o700 });
    await chmod(open, 0o777);
    assert.match((await socketFolderProblem(join(open, 'comms'), { owners: [me], use: 'connect' })) ?? '', /above the socket folder, is writable by other users/);
    await chmod(open, 0o1777);
    assert.equal(await socketFolderProblem(join(open, 'comms'), { owners: [me], use: 'connect' }), null, 'the sticky bit (as /tmp) protects it');
    // A link on the way is as safe as the folder that holds it: anyone could point it elsewhere here.
    const lax = join(base, 'lax');
    await mkdir(lax);
    await symlink(open, join(lax, 'to-open'));
    await chmod(lax, 0o777);
    assert.match((await socketFolderProblem(join(lax, 'to-open', 'comms'), { owners: [me], use: 'connect' })) ?? '', new RegExp(`${lax}, above the socket folder, is writable by other users`));
  });
});

describe('prepareSocketPath: where a listener may listen', () => {
  test('makes its folder 0700, removes its own stale socket, and refuses a live one or anything else', async (t) => {
    const base = await scratch(t);
    const path = join(base, 'run', 'comms', 'amqp.sock');
    await prepareSocketPath(path);
    assert.equal((await lstat(join(base, 'run', 'comms'))).mode & 0o7777, 0o700);

    staleSocket(path);
    assert.ok((await lstat(path)).isSocket(), 'a socket was left behind');
    await prepareSocketPath(path);
    await assert.rejects(lstat(path), /ENOENT/);

    const live = createServer();
    await new Promise<void>((resolve) => live.listen(path, resolve));
    t.after(() => new Promise<void>((resolve) => live.close(() => resolve())));
    await assert.rejects(prepareSocketPath(path), /another process listens there/);
    const other = join(base, 'run', 'comms', 'http.sock');
    await writeFile(other, 'not a socket');
    await assert.rejects(prepareSocketPath(other), /something else is there/);
  });

  test('refuses a folder that is too open or not its own, and a path too long for a socket', async (t) => {
    const base = await scratch(t);
    await mkdir(join(base, 'open'), { mode: 0o755 });
    await chmod(join(base, 'open'), 0o755);
    await assert.rejects(prepareSocketPath(join(base, 'open', 'amqp.sock')), /refusing to listen on .*open to other users/);
    await assert.rejects(prepareSocketPath(`${base}/${'x'.repeat(120)}/amqp.sock`), /at most 107 bytes/);
    const other = nobody();
    await mkdir(join(base, 'theirs'), { mode: 0o700 });
    await chown(join(base, 'theirs'), other.uid, other.gid);
    await assert.rejects(prepareSocketPath(join(base, 'theirs', 'amqp.sock')), new RegExp(`owned by uid ${other.uid}`));
  });

  test('a stale socket of another user is refused, never removed', async (t) => {
    const other = nobody();
    const dir = join(await scratch(t), 'comms');
    const path = join(dir, 'join.sock');
    await prepareSocketPath(path);
    staleSocket(path);
    await chown(path, other.uid, other.gid);
    await assert.rejects(prepareSocketPath(path), /something else is there/);
    assert.ok((await lstat(path)).isSocket());
  });
});

describe('trustedSocketPath: where a client may connect', () => {
  test('answers the socket in a trusted folder, and says why not otherwise', async (t) => {
    const base = await scratch(t);
    const dir = join(base, 'comms');
    await prepareSocketPath(join(dir, 'amqp.sock'));
    await assert.rejects(trustedSocketPath(dir, 'amqp.sock', [me]), /amqp\.sock does not exist: nothing listens there yet/);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'amqp.sock'), resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    assert.equal(await trustedSocketPath(dir, 'amqp.sock', [me]), join(dir, 'amqp.sock'));
    await writeFile(join(dir, 'http.sock'), '');
    await assert.rejects(trustedSocketPath(dir, 'http.sock', [me]), /not a socket/);
    await chmod(dir, 0o777);
    await assert.rejects(trustedSocketPath(dir, 'amqp.sock', [me]), /refusing to connect through .*writable by other users/);
  });
});
