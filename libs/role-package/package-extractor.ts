import { constants } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, open, rename, rm, symlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { sha256Hex } from './package-digest';
import type { InspectedPackage, InspectOptions, PackageEntry } from './package-entry';
import { inspectPackage, resolveLimits } from './package-inspector';
import { walkPackage, type WalkLimits } from './package-walker';
import { RolePackageError } from './role-package.error';
import type { TarContentSink } from './tar-reader';

export interface ExtractOptions extends InspectOptions {
  /** The sha256 the role store recorded; the package is refused before anything else if it differs. */
  expectedSha256?: string;
}

/** Create-only, and never through a symlink, whatever is already on disk. */
const CREATE_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/**
 * The most a member or folder keeps of its mode: hooks run as root, so nothing unpacked may be
 * writable by group or others (a local user could change what root runs), and setuid, setgid
 * and sticky bits are not carried over (a package is code, not a set of privileges).
 */
const PERMISSION_BITS = 0o755;
/** Folders the extractor makes itself: the package root, destDir's parents, and parents the archive does not list. */
const FOLDER_MODE = 0o755;

/**
 * Verifies and inspects a package, then unpacks it into a fresh sibling of `destDir` and renames
 * that into place, so `destDir` either does not exist or holds the whole package. `destDir` must
 * not exist yet; its parent is created. A refused package writes nothing.
 */
export async function extractPackage(buf: Buffer, destDir: string, options: ExtractOptions = {}): Promise<InspectedPackage> {
  if (options.expectedSha256 !== undefined) {
    const actual = sha256Hex(buf);
    if (actual !== options.expectedSha256.toLowerCase()) {
      throw new RolePackageError(`sha256 mismatch: expected ${options.expectedSha256}, got ${actual}`);
    }
  }
  const limits = resolveLimits(options);
  const inspected = await inspectPackage(buf, limits);

  const target = resolve(destDir);
  if (await exists(target)) throw new Error(`cannot extract a role package into ${target}: it already exists`);
  await mkdir(dirname(target), { recursive: true, mode: FOLDER_MODE });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.partial-`));
  try {
    await unpackInto(buf, staging, inspected.entries, limits);
    await chmod(staging, FOLDER_MODE);
    // Not atomic against someone creating an empty destDir in between: rename(2) would replace it.
    await rename(staging, target);
  } catch (error: unknown) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return inspected;
}

/**
 * Directories and files first, in archive order; hard links, then symlinks, after all of them,
 * so no write ever passes through a link; directory modes last, deepest first, so a read-only
 * directory does not stop its own contents being written.
 */
async function unpackInto(buf: Buffer, root: string, expected: PackageEntry[], limits: WalkLimits): Promise<void> {
  const onDisk = (entry: PackageEntry): string => join(root, ...entry.path.split('/'));
  const links: PackageEntry[] = [];
  const directories: PackageEntry[] = [];
  let openFile: FileHandle | undefined;
  let index = 0;
  try {
    const walked = await walkPackage(buf, limits, async (entry) => {
      const inspected = expected[index];
      index += 1;
      // Both walks read the same bytes; differing means the buffer was changed under us.
      if (inspected === undefined || !sameEntry(entry, inspected)) throw new Error('role package changed while it was being extracted');
      const path = onDisk(entry);
      if (entry.type === 'directory') {
        await mkdir(path, { recursive: true, mode: FOLDER_MODE });
        directories.push(entry);
        return undefined;
      }
      if (entry.type !== 'file') {
        links.push(entry);
        return undefined;
      }
      await mkdir(dirname(path), { recursive: true, mode: FOLDER_MODE });
      const handle = await open(path, CREATE_FILE_FLAGS, 0o600);
      openFile = handle;
      return fileSink(handle, entry.mode & PERMISSION_BITS, () => (openFile = undefined));
    });
    if (walked.problems.length > 0 || index !== expected.length) throw new Error('role package changed while it was being extracted');
  } finally {
    await openFile?.close();
  }

  for (const entry of links.filter((e) => e.type === 'hardlink')) {
    await mkdir(dirname(onDisk(entry)), { recursive: true, mode: FOLDER_MODE });
    await link(join(root, ...(entry.linkTarget ?? '').split('/')), onDisk(entry));
  }
  for (const entry of links.filter((e) => e.type === 'symlink')) {
    await mkdir(dirname(onDisk(entry)), { recursive: true, mode: FOLDER_MODE });
    await symlink(entry.linkTarget ?? '', onDisk(entry));
  }
  const deepestFirst = [...directories].sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const entry of deepestFirst) await chmod(onDisk(entry), entry.mode & PERMISSION_BITS);
}

function fileSink(handle: FileHandle, mode: number, onClosed: () => void): TarContentSink {
  return {
    async write(chunk) {
      for (let written = 0; written < chunk.length; ) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
        written += bytesWritten;
      }
    },
    async end() {
      // chmod after writing: the create mode is filtered by the umask, and a read-only file could not be written.
      await handle.chmod(mode);
      onClosed();
      await handle.close();
    },
  };
}

function sameEntry(a: PackageEntry, b: PackageEntry): boolean {
  return a.path === b.path && a.type === b.type && a.size === b.size && a.mode === b.mode && a.linkTarget === b.linkTarget;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
