import { promises as fs } from 'node:fs';

// Keys are written through the one helper for private files (mode from the start, fsync, rename, fsync of the folder).
export { ensurePrivateDir, writeFileAtomic } from '#private-fs';

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}
