import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode, writeFileAtomic as writePrivateFile } from '#private-fs';

/**
 * Writes `file` whole or not at all, durably (libs/private-fs: a temporary file with the mode
 * from the start, fsync, rename, fsync of the folder), making its folder first. The temporary
 * name ends in `.tmp`, so that nobody scanning the folder for `*.yaml` picks it up.
 */
export async function writeFileAtomic(file: string, content: string | Buffer, mode = 0o600): Promise<void> {
  await fs.mkdir(dirname(file), { recursive: true });
  await writePrivateFile(file, content, mode);
}

export { errnoCode, syncDirectory as syncFolder } from '#private-fs';

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
