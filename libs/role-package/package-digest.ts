import { createHash } from 'node:crypto';

/** The package's identity as the role store records it: lowercase hex sha256 of the .tar.gz bytes. */
export function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
