import { constants, promises as fs } from 'node:fs';
import { dirname } from 'node:path';

/** A file's or folder's owner, as numbers (chown). */
export interface FileOwner {
  uid: number;
  gid: number;
}

export interface AtomicWriteOptions {
  /** Give the file to this owner (the caller must be allowed to: root, or the owner itself). */
  owner?: FileOwner;
  /** Never replace an existing file: answer false and leave it as it is (first writer wins). */
  noReplace?: boolean;
}

/** The `code` of a Node system error (ENOENT, EEXIST, ...), if `err` is one. */
export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Temporary names need only be unique among this host's writers (they are created exclusively): no crypto to load for them. */
let written = 0;

/** The name writeFileAtomic gives its temporary file: `<file>.<pid>.<n>.<time>.tmp`. */
const TEMP_NAME = /\.\d+\.\d+\.[0-9a-z]+\.tmp$/;

/** The file that `path` becomes, when `path` is writeFileAtomic's temporary file for it; otherwise undefined. */
export function atomicWriteTarget(path: string): string | undefined {
  return TEMP_NAME.test(path) ? path.replace(TEMP_NAME, '') : undefined;
}

/**
 * Writes a file whole or not at all, and durably: a temporary file beside it, created with
 * `mode` (and `owner`) from the start so that a secret is never readable by others, not even
 * briefly; then write, fsync, rename over the file, fsync of the folder. Answers whether it
 * wrote (false only with `noReplace` when the file was there).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, options: AtomicWriteOptions = {}): Promise<boolean> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${++written}.${Date.now().toString(36)}.tmp`; // TEMP_NAME below reads it back
  try {
    // O_EXCL: a name someone planted (a link to elsewhere) makes this fail instead of writing through it.
    const handle = await fs.open(tmp, 'wx', mode & 0o600);
    try {
      if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid);
      await handle.chmod(mode); // after chown (which may clear set-id bits), and past the umask
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.noReplace) {
      if (!(await linkNoReplace(tmp, path))) return false;
    } else {
      await fs.rename(tmp, path);
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
  await syncDirectory(dir);
  return true;
}

/** link() refuses to replace a file; rename() where the file system has no hard links. */
async function linkNoReplace(tmp: string, path: string): Promise<boolean> {
  try {
    await fs.link(tmp, path);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  await fs.rename(tmp, path);
  return true;
}

/**
 * Creates `dir` (and its parents, with the usual modes) and gives `dir` itself `mode` and
 * `owner`, also when it was there already (a folder made by hand or by an older version).
 * A symbolic link in its place is refused, never followed.
 */
export async function ensurePrivateDir(dir: string, mode: number, owner?: FileOwner): Promise<void> {
  await makeDir(dir, mode);
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(async (err: unknown) => {
    if (errnoCode(err) !== 'ELOOP' && errnoCode(err) !== 'ENOTDIR') throw err;
    const what = (await fs.lstat(dir)).isSymbolicLink() ? 'a symbolic link' : 'not a folder';
    throw new Error(`${dir} is ${what}: refusing to use it for private files`);
  });
  try {
    if (owner !== undefined) await handle.chown(owner.uid, owner.gid);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Creates `dir` with `mode` (before any chown or chmod, so never wider), its missing parents with the usual modes. */
export async function makeDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dirname(dir), { recursive: true });
  try {
    await fs.mkdir(dir, { mode });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}

/**
 * Gives an existing file `mode` and `owner` (a file written before they were right). Only a
 * regular file with one name is touched: a link planted in its place is left alone and
 * reported, so that nothing else is ever chowned through it. Answers false when there is no file.
 */
export async function securePrivateFile(path: string, mode: number, owner?: FileOwner): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    if (errnoCode(err) === 'ELOOP') throw new Error(`${path} is a symbolic link, not a file: refusing to use it`);
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.nlink !== 1) throw new Error(`${path} is not a regular file with a single name: refusing to use it`);
    if (owner !== undefined && (stat.uid !== owner.uid || stat.gid !== owner.gid)) await handle.chown(owner.uid, owner.gid);
    if ((stat.mode & 0o7777) !== mode) await handle.chmod(mode);
  } finally {
    await handle.close();
  }
  return true;
}

/** Makes a rename or a new file in `dir` survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is atomic all the same.
  }
}
