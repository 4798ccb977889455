import 'reflect-metadata'; // the contract's decorators expect it loaded first
import { describeDetails, HOOK_NAMES, parseJsonBytes, ROLE_MANIFEST_FILE, RoleManifest, validatePlain, type ValidationDetail } from '#contracts';
import { resolveInPackage, showPath } from './entry-paths';
import { sha256Hex } from './package-digest';
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_METADATA_BYTES,
  DEFAULT_MAX_UNPACKED_BYTES,
  type InspectedPackage,
  type InspectOptions,
  type PackageEntry,
} from './package-entry';
import { checkTree } from './package-tree';
import { walkPackage, type WalkLimits } from './package-walker';
import { RolePackageError } from './role-package.error';
import type { TarContentSink } from './tar-reader';

/** A manifest names seven hooks; anything near this size is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * Reads a role package without unpacking it and refuses it, with every reason found, unless
 * it is safe to unpack and a valid role: see CONTRACT.md section 6.
 */
export async function inspectPackage(buf: Buffer, options: InspectOptions = {}): Promise<InspectedPackage> {
  const limits = resolveLimits(options);
  const sha256 = sha256Hex(buf);
  const manifestChunks: Buffer[] = [];
  const { entries, problems } = await walkPackage(buf, limits, (entry) =>
    entry.path === ROLE_MANIFEST_FILE && entry.type === 'file' && entry.size <= MAX_MANIFEST_BYTES
      ? collectInto(manifestChunks)
      : undefined,
  );
  problems.push(...checkTree(entries));
  if (problems.length > 0) throw new RolePackageError(problems);

  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  const manifest = parseManifest(byPath.get(ROLE_MANIFEST_FILE), Buffer.concat(manifestChunks));
  const hookProblems = checkHooks(manifest, byPath);
  if (hookProblems.length > 0) throw new RolePackageError(hookProblems);
  return { manifest, sha256, entries };
}

export function resolveLimits(options: InspectOptions): WalkLimits {
  const limits = {
    maxUnpackedBytes: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxMetadataBytes: options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
  }
  return limits;
}

function collectInto(chunks: Buffer[]): TarContentSink {
  return { write: (chunk) => void chunks.push(Buffer.from(chunk)), end: () => undefined };
}

function parseManifest(entry: PackageEntry | undefined, bytes: Buffer): RoleManifest {
  if (entry === undefined) throw new RolePackageError(`package has no ${ROLE_MANIFEST_FILE} at its root`);
  if (entry.type !== 'file') throw new RolePackageError(`${ROLE_MANIFEST_FILE} must be a regular file, not a ${entry.type}`);
  if (entry.size > MAX_MANIFEST_BYTES) throw new RolePackageError(`${ROLE_MANIFEST_FILE} is larger than 1 MiB`);
  const parsed = parseJsonBytes(bytes);
  if (!parsed.ok) throw new RolePackageError(/^(the )?body /.test(parsed.problem) ? parsed.problem.replace(/^(the )?body /, `${ROLE_MANIFEST_FILE} `) : `${ROLE_MANIFEST_FILE}: ${parsed.problem}`);
  const json = parsed.value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RolePackageError(`${ROLE_MANIFEST_FILE} must hold a JSON object`);
  }
  const validated = validatePlain(RoleManifest, json, { forbidUnknown: false });
  if (!validated.ok) throw new RolePackageError(validated.details.flatMap(describeManifestDetail));
  return validated.value;
}

/** class-validator messages start with the property name; put the parent path in front ('hooks.configure ...'). */
function describeManifestDetail(detail: ValidationDetail): string[] {
  const segments = detail.path.split('.');
  const property = segments.pop() ?? '';
  const parent = segments.join('.');
  return detail.problems.map((problem) => {
    if (parent === '') return `${ROLE_MANIFEST_FILE}: ${problem}`;
    if (problem.startsWith(`${property} `)) return `${ROLE_MANIFEST_FILE}: ${parent}.${problem}`;
    return `${ROLE_MANIFEST_FILE}: ${describeDetails([{ path: detail.path, problems: [problem] }])}`;
  });
}

/** Each hook must be, or be a symlink in the package to, a regular file with an executable bit. */
function checkHooks(manifest: RoleManifest, byPath: Map<string, PackageEntry>): string[] {
  const lookup = (path: string): PackageEntry | undefined => byPath.get(path);
  const problems: string[] = [];
  for (const hook of HOOK_NAMES) {
    const hookPath = manifest.hooks[hook];
    if (hookPath === undefined) continue;
    const named = `hook ${hook}: '${showPath(hookPath)}'`;
    const resolved = resolveInPackage([], hookPath, lookup);
    if (resolved.kind !== 'inside') {
      problems.push(`${named} is a link that does not resolve inside the package`);
      continue;
    }
    let target = lookup(resolved.path);
    if (target?.type === 'hardlink' && target.linkTarget !== undefined) target = lookup(target.linkTarget);
    if (target === undefined) {
      const via = resolved.path === hookPath ? '' : ` (it resolves to '${showPath(resolved.path)}')`;
      problems.push(`${named} is not in the package${via}`);
    } else if (target.type !== 'file') {
      problems.push(`${named} is a ${target.type}, not a regular file`);
    } else if ((target.mode & 0o111) === 0) {
      problems.push(`${named} is not executable`);
    }
  }
  return problems;
}
