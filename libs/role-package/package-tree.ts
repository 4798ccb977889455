import { outsideProblem, parentSegments, resolveInPackage, showPath } from './entry-paths';
import type { PackageEntry } from './package-entry';

/**
 * Checks that need the whole package: nothing lives under a file or a symlink (so extraction
 * never writes through a link), hard links name an earlier regular file, and no symlink
 * escapes the package by way of other symlinks.
 */
export function checkTree(entries: PackageEntry[]): string[] {
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  const lookup = (path: string): PackageEntry | undefined => byPath.get(path);
  const problems: string[] = [];
  const earlierFiles = new Set<string>();
  for (const entry of entries) {
    const blocker = nonDirectoryAncestor(entry.path, lookup);
    if (blocker !== undefined) {
      problems.push(`entry '${showPath(entry.path)}' is inside '${showPath(blocker.path)}', which is a ${blocker.type}, not a directory`);
    }
    if (entry.type === 'hardlink' && entry.linkTarget !== undefined && !earlierFiles.has(entry.linkTarget)) {
      problems.push(
        `hardlink '${showPath(entry.path)}' points to '${showPath(entry.linkTarget)}', which is not a regular file before it in the package`,
      );
    }
    if (entry.type === 'symlink' && entry.linkTarget !== undefined) {
      const resolved = resolveInPackage(parentSegments(entry.path), entry.linkTarget, lookup);
      if (resolved.kind === 'outside') problems.push(outsideProblem(entry.path, entry.linkTarget));
      if (resolved.kind === 'loop') problems.push(`link '${showPath(entry.path)}' is part of a symlink loop`);
    }
    if (entry.type === 'file') earlierFiles.add(entry.path);
  }
  return problems;
}

function nonDirectoryAncestor(path: string, lookup: (path: string) => PackageEntry | undefined): PackageEntry | undefined {
  const segments = path.split('/');
  for (let depth = 1; depth < segments.length; depth += 1) {
    const ancestor = lookup(segments.slice(0, depth).join('/'));
    if (ancestor !== undefined && ancestor.type !== 'directory') return ancestor;
  }
  return undefined;
}
