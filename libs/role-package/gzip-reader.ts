import { createGunzip } from 'node:zlib';
import { RolePackageError } from './role-package.error';

const GZIP_MAGIC = [0x1f, 0x8b, 0x08] as const; // ID1, ID2, CM=deflate

export function isGzip(buf: Buffer): boolean {
  return buf.length >= 10 && GZIP_MAGIC.every((byte, i) => buf[i] === byte);
}

/**
 * The decompressed bytes of a gzip buffer, produced lazily as they are consumed, so that a
 * small package that inflates to gigabytes costs only as much as the reader pulls.
 */
export async function* gunzipChunks(buf: Buffer): AsyncGenerator<Buffer, void, undefined> {
  if (!isGzip(buf)) throw new RolePackageError('package is not gzip-compressed');
  const gunzip = createGunzip();
  gunzip.end(buf);
  try {
    for await (const chunk of gunzip as AsyncIterable<unknown>) {
      if (!Buffer.isBuffer(chunk)) throw new Error('gunzip produced a non-Buffer chunk');
      yield chunk;
    }
  } catch (error: unknown) {
    if (isZlibError(error)) throw new RolePackageError(`package is not valid gzip (${error.message})`);
    throw error;
  } finally {
    gunzip.destroy();
  }
}

function isZlibError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}
