import { checkHardlinkTarget, checkSymlinkTarget, normaliseEntryPath, showPath } from './entry-paths';
import { gunzipChunks } from './gzip-reader';
import type { PackageEntry, PackageEntryType } from './package-entry';
import { RolePackageError } from './role-package.error';
import { readTar, TarFormatError, TarLimitError, type TarContentSink, type TarHeader } from './tar-reader';

export interface WalkLimits {
  /** Every byte the archive inflates to, not only file content. */
  maxUnpackedBytes: number;
  /** Members and global pax headers. */
  maxEntries: number;
  /** Pax and GNU long-name headers together. */
  maxMetadataBytes: number;
}

export interface WalkResult {
  /** The members that passed the per-entry checks, in archive order. */
  entries: PackageEntry[];
  /** What is wrong with the others; the package is refused when this is not empty. */
  problems: string[];
}

/** Decides where an accepted member's content goes (nowhere when it returns undefined). */
export type EntryHandler = (entry: PackageEntry) => TarContentSink | undefined | Promise<TarContentSink | undefined>;

const TYPES = new Map<string, PackageEntryType>([
  ['0', 'file'],
  ['7', 'file'], // contiguous file: a regular file everywhere that matters
  ['1', 'hardlink'],
  ['2', 'symlink'],
  ['5', 'directory'],
]);
const REFUSED_TYPES = new Map([
  ['3', 'a character device'],
  ['4', 'a block device'],
  ['6', 'a FIFO'],
]);

/**
 * Walks a package's members once, checking each on its own (path, type, link target) and the
 * limits as it goes; limits stop the walk (and the inflating) at once, other problems are collected.
 */
export async function walkPackage(buf: Buffer, limits: WalkLimits, onEntry: EntryHandler): Promise<WalkResult> {
  const entries: PackageEntry[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const tarLimits = { maxBytes: limits.maxUnpackedBytes, maxEntries: limits.maxEntries, maxMetadataBytes: limits.maxMetadataBytes };
  try {
    await readTar(gunzipChunks(buf), (header) => {
      const checked = toPackageEntry(header);
      if (typeof checked === 'string') {
        problems.push(checked);
        return undefined;
      }
      if (checked === undefined) return undefined;
      if (seen.has(checked.path)) {
        problems.push(`entry '${showPath(checked.path)}' appears more than once`);
        return undefined;
      }
      seen.add(checked.path);
      entries.push(checked);
      return onEntry(checked);
    }, tarLimits);
  } catch (error: unknown) {
    if (error instanceof TarLimitError) throw new RolePackageError(error.message);
    if (error instanceof TarFormatError) throw new RolePackageError(`package is not a valid tar archive (${error.message})`);
    throw error;
  }
  return { entries, problems };
}

/** The entry, a problem, or undefined for the archive's own root directory ('./'), which is skipped. */
function toPackageEntry(header: TarHeader): PackageEntry | string | undefined {
  const normalised = normaliseEntryPath(header.path);
  if (!normalised.ok) return normalised.problem;
  const path = normalised.path;
  const shown = showPath(header.path);
  const refused = REFUSED_TYPES.get(header.typeflag);
  if (refused !== undefined) return `entry '${shown}' is ${refused}`;
  const type = TYPES.get(header.typeflag);
  if (type === undefined) return `entry '${shown}' has an unsupported type ('${showPath(header.typeflag)}')`;
  if (path === '') return type === 'directory' ? undefined : `entry '${shown}' has no name`;
  if (type !== 'file' && header.size !== 0) return `entry '${shown}' is a ${type} but carries ${header.size} bytes of data`;

  const entry: PackageEntry = { path, type, size: header.size, mode: header.mode & 0o7777 };
  if (type === 'symlink') {
    const problem = checkSymlinkTarget(path, header.linkpath);
    if (problem !== undefined) return problem;
    entry.linkTarget = header.linkpath;
  } else if (type === 'hardlink') {
    const target = checkHardlinkTarget(path, header.linkpath);
    if (!target.ok) return target.problem;
    entry.linkTarget = target.path;
  }
  return entry;
}
