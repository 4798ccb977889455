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

/**
 * What a package may cost whoever reads it (the role store on upload, the host before
 * unpacking): counted on everything gunzip produces, so a small package that inflates to
 * gigabytes of headers is refused as soon as it passes a limit.
 */
export interface InspectOptions {
  /** Bytes the package inflates to: file content, header blocks, extended headers, padding; default 512 MiB. */
  maxUnpackedBytes?: number;
  /** Members in the archive, and global pax headers; default 10,000. */
  maxEntries?: number;
  /** Pax and GNU long-name headers together (a few hundred bytes per member in real packages); default 16 MiB. */
  maxMetadataBytes?: number;
}

export const DEFAULT_MAX_UNPACKED_BYTES = 512 * 1024 * 1024;
export const DEFAULT_MAX_ENTRIES = 10_000;
export const DEFAULT_MAX_METADATA_BYTES = 16 * 1024 * 1024;
