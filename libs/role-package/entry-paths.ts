import type { PackageEntry } from './package-entry';

/** Linux NAME_MAX and PATH_MAX: longer names could never be extracted. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4095;
/** As the kernel's limit on nested symlinks (MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;
const MAX_SHOWN_CHARS = 200;

export type PathCheck = { ok: true; path: string } | { ok: false; problem: string };

/** A path for a message: control characters escaped, long paths shortened. */
export function showPath(path: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped here
  const escaped = path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > MAX_SHOWN_CHARS ? `${escaped.slice(0, MAX_SHOWN_CHARS)}...` : escaped;
}

/**
 * Normalises a member path ('./a//b/' becomes 'a/b'; './' becomes '') and refuses the ones
 * that could land outside the package: absolute, or with a '..' segment anywhere.
 */
export function normaliseEntryPath(raw: string): PathCheck {
  const shown = showPath(raw);
  if (raw === '') return { ok: false, problem: 'an entry has an empty path' };
  if (raw.includes('\0')) return { ok: false, problem: `entry '${shown}' has a NUL byte in its path` };
  if (raw.startsWith('/')) return { ok: false, problem: `entry '${shown}' has an absolute path` };
  const segments = splitPath(raw);
  if (segments.includes('..')) return { ok: false, problem: `entry '${shown}' leaves the package` };
  const path = segments.join('/');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES || segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    return { ok: false, problem: `entry '${shown}' has a path too long to extract` };
  }
  return { ok: true, path };
}

/** A symlink target as stored, checked on its own: non-empty, relative, and not leaving the package by '..'. */
export function checkSymlinkTarget(linkPath: string, target: string): string | undefined {
  const problem = checkLinkTargetText(linkPath, target);
  if (problem !== undefined) return problem;
  const resolved = resolveInPackage(parentSegments(linkPath), target, () => undefined);
  return resolved.kind === 'outside' ? outsideProblem(linkPath, target) : undefined;
}

/** A hard link target names another member, from the package root. */
export function checkHardlinkTarget(linkPath: string, target: string): PathCheck {
  const problem = checkLinkTargetText(linkPath, target);
  if (problem !== undefined) return { ok: false, problem };
  const segments = splitPath(target);
  if (segments.includes('..') || segments.length === 0) return { ok: false, problem: outsideProblem(linkPath, target) };
  return { ok: true, path: segments.join('/') };
}

function checkLinkTargetText(linkPath: string, target: string): string | undefined {
  if (target === '') return `link '${showPath(linkPath)}' has an empty target`;
  if (target.includes('\0')) return `link '${showPath(linkPath)}' has a NUL byte in its target`;
  if (target.startsWith('/')) return `link '${showPath(linkPath)}' has an absolute target ('${showPath(target)}')`;
  return undefined;
}

export function outsideProblem(linkPath: string, target: string): string {
  return `link '${showPath(linkPath)}' points outside the package (to '${showPath(target)}')`;
}

export type Resolution = { kind: 'inside'; path: string } | { kind: 'outside' } | { kind: 'loop' };

/**
 * Resolves `path` from the directory `from` as the kernel would once the package is unpacked:
 * every component that is a symlink in the package is replaced by its target, so a chain of
 * individually harmless links cannot climb out. Components the package lacks are taken as
 * plain directories.
 */
export function resolveInPackage(from: string[], path: string, lookup: (path: string) => PackageEntry | undefined): Resolution {
  const resolved = [...from];
  const pending = path.split('/');
  let hops = 0;
  for (let segment = pending.shift(); segment !== undefined; segment = pending.shift()) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (resolved.length === 0) return { kind: 'outside' };
      resolved.pop();
      continue;
    }
    resolved.push(segment);
    const entry = lookup(resolved.join('/'));
    if (entry?.type !== 'symlink' || entry.linkTarget === undefined) continue;
    hops += 1;
    if (hops > MAX_LINK_HOPS) return { kind: 'loop' };
    if (entry.linkTarget.startsWith('/')) return { kind: 'outside' };
    resolved.pop();
    pending.unshift(...entry.linkTarget.split('/'));
  }
  return { kind: 'inside', path: resolved.join('/') };
}

export function parentSegments(path: string): string[] {
  return splitPath(path).slice(0, -1);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}
