import { statSync } from 'node:fs';

/**
 * What tells whether a set of files changed (replaced, rewritten, removed), without
 * reading them: inode, size and modification time of each, '-' for one that is missing.
 */
export function fileStamps(files: readonly string[]): string {
  return files
    .map((file) => {
      const st = statSync(file, { throwIfNoEntry: false });
      return st === undefined ? '-' : `${st.ino}:${st.size}:${st.mtimeMs}`;
    })
    .join('|');
}
