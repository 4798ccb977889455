import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PkiFiles } from '#contracts';
import type { Logger } from '#logging';
import { errnoCode } from './fs-primitives';

/** Folders where the agent writes a file through a temporary one beside it (`….tmp`). */
const TEMP_FILE_DIRS = ['etc/pf9', PkiFiles.host.dir, 'var/lib/pf9/hostagent'];
/** Where role packages are unpacked, one folder per role and version. */
export const ROLES_DIR = 'opt/pf9/roles';

/**
 * Temporary files of writes that a crash interrupted (never renamed into place, so never
 * read): removed at start, before anything writes there again. A renewal's pending files
 * (`….next`) are not temporary: registration finishes them.
 */
export async function removeTempFiles(root: string, logger: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of TEMP_FILE_DIRS.map((d) => join(root, d))) {
    for (const name of await namesIn(dir)) {
      if (!name.endsWith('.tmp')) continue;
      await fs.rm(join(dir, name), { force: true });
      removed.push(join(dir, name));
    }
  }
  if (removed.length > 0) logger.warn('removed temporary files left by an interrupted write', { files: removed });
  return removed;
}

/**
 * Role folders that no installed role uses: a package being unpacked (`.<version>.partial-…`)
 * or installed (an upgrade's new version) when the agent stopped, or a role whose removal
 * did not finish. The role engine unpacks again whatever it still needs.
 */
export async function removeUnusedRoleDirs(root: string, installedVersions: ReadonlyMap<string, string>, logger: Logger): Promise<string[]> {
  const rolesDir = join(root, ROLES_DIR);
  const removed: string[] = [];
  for (const role of await namesIn(rolesDir)) {
    const version = installedVersions.get(role);
    const unused = version === undefined ? [join(rolesDir, role)] : (await namesIn(join(rolesDir, role))).filter((name) => name !== version).map((name) => join(rolesDir, role, name));
    for (const path of unused) {
      try {
        // Retries ride out a writer that is still finishing (ENOTEMPTY, EBUSY): an agent stopped mid-unpack.
        await fs.rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        removed.push(path);
      } catch (err) {
        // Not fatal: the folder is unused, and the next start tries again.
        logger.warn('could not remove an unused role folder', { folder: path, err: String(err) });
      }
    }
  }
  if (removed.length > 0) logger.warn('removed role folders that no installed role uses (left by an interrupted install, upgrade or removal)', { folders: removed });
  return removed;
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}
