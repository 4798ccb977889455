import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { showPath } from './entry-paths';
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_UNPACKED_BYTES } from './package-entry';
import { inspectPackage } from './package-inspector';
import { RolePackageError } from './role-package.error';
import { END_OF_ARCHIVE, encodeMember, type TarMember } from './tar-writer';

/** Offset of the gzip header's OS byte; 255 ("unknown") so the bytes do not depend on the building machine. */
const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNKNOWN = 255;

interface FolderMember {
  path: string;
  type: TarMember['type'];
  mode: number;
  size: number;
}

/**
 * Packs a role folder (role.json at its root) into a role package. The same folder gives the
 * same bytes: members sorted, owner 0:0, a fixed mtime, permission bits kept. The result is
 * inspected before it is returned, so an invalid role is refused here rather than on upload.
 */
export async function buildPackage(dir: string): Promise<Buffer> {
  const root = resolve(dir);
  const members = await listFolder(root);
  if (members.length > DEFAULT_MAX_ENTRIES) throw new RolePackageError(`folder has more than ${DEFAULT_MAX_ENTRIES} entries`);
  const totalBytes = members.reduce((sum, member) => sum + member.size, 0);
  if (totalBytes > DEFAULT_MAX_UNPACKED_BYTES) {
    throw new RolePackageError(`folder holds more than ${DEFAULT_MAX_UNPACKED_BYTES} bytes`);
  }
  const gzipped = await gzip(Readable.from(tarChunks(root, members)));
  await inspectPackage(gzipped);
  return gzipped;
}

/** Every member below `root`, depth first, sorted by path (code unit order, independent of locale). */
async function listFolder(root: string): Promise<FolderMember[]> {
  const members: FolderMember[] = [];
  const visit = async (relative: string): Promise<void> => {
    const names = (await readdir(join(root, relative))).sort();
    for (const name of names) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const stats = await lstat(join(root, path));
      const mode = stats.mode & 0o777;
      if (stats.isDirectory()) {
        members.push({ path, type: 'directory', mode, size: 0 });
        await visit(path);
      } else if (stats.isFile()) {
        members.push({ path, type: 'file', mode, size: stats.size });
      } else if (stats.isSymbolicLink()) {
        members.push({ path, type: 'symlink', mode, size: 0 });
      } else {
        throw new RolePackageError(`'${showPath(path)}' is not a regular file, directory or symlink`);
      }
    }
  };
  await visit('');
  return members;
}

async function* tarChunks(root: string, members: FolderMember[]): AsyncGenerator<Buffer> {
  for (const member of members) {
    const onDisk = join(root, member.path);
    const content = member.type === 'file' ? await readFile(onDisk) : Buffer.alloc(0);
    const linkTarget = member.type === 'symlink' ? await readlink(onDisk) : undefined;
    yield* encodeMember({ path: member.path, type: member.type, mode: member.mode, content, linkTarget });
  }
  yield END_OF_ARCHIVE;
}

async function gzip(tar: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar.pipe(createGzip()) as AsyncIterable<unknown>) {
    if (!Buffer.isBuffer(chunk)) throw new Error('gzip produced a non-Buffer chunk');
    chunks.push(chunk);
  }
  const gzipped = Buffer.concat(chunks);
  gzipped[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
  return gzipped;
}
