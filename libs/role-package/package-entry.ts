import type { RoleManifest } from '#contracts';

export type PackageEntryType = 'file' | 'directory' | 'symlink' | 'hardlink';

/** One member of a role package, its path normalised (relative, no './', no trailing '/'). */
export interface PackageEntry {
  path: string;
  type: PackageEntryType;
  /** Bytes of content; 0 for everything but files. */
  size: number;
  /** Permission bits as stored (mode & 0o7777). */
  mode: number;
  /** Symlinks: the target as stored, relative to the link's directory. Hard links: the target's package path. */
  linkTarget?: string;
}

export interface InspectedPackage {
  manifest: RoleManifest;
  /** Lowercase hex sha256 of the package bytes. */
  sha256: string;
  /** Members in archive order (the root './' entry, if any, is not listed). */
  entries: PackageEntry[];
}

export interface InspectOptions {
  /** Sum of file sizes; default 512 MiB. */
  maxUnpackedBytes?: number;
  /** Members in the archive; default 10,000. */
  maxEntries?: number;
}

export const DEFAULT_MAX_UNPACKED_BYTES = 512 * 1024 * 1024;
export const DEFAULT_MAX_ENTRIES = 10_000;
