import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `file` so that a reader (or a crash) sees the old content or the new, never a
 * part: a temporary file beside it, fsync, rename, fsync of the folder. The temporary
 * name ends in `.tmp`, so that nobody scanning the folder for `*.yaml` picks it up.
 */
export async function writeFileAtomic(file: string, content: string | Buffer, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${uniqueSuffix()}.tmp`);
  try {
    const handle = await fs.open(tmp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open() applies the umask; the mode asked for is the one that must hold.
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncFolder(dir);
}

/** Makes a rename or a new entry in `dir` survive a power cut (where the file system can). */
export async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename is atomic there all the same.
  }
}

/** The `code` of a Node system error (ENOENT, EEXIST, ...), if `err` is one. */
export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** The file's text, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

let written = 0;
/** Unique among the writers of one host: the process id and a counter (no crypto needed for a name). */
export function uniqueSuffix(): string {
  written += 1;
  return `${process.pid}-${written}-${Date.now().toString(36)}`;
}
