import { promises as fs, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { dirname, isAbsolute, join, parse, sep } from 'node:path';
import { errnoCode, makeDir } from './private-files';

/** The longest path a Unix socket can have on Linux (sun_path holds 108 bytes with its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Mode of a socket a listener makes: only its owner may connect. */
export const SOCKET_MODE = 0o600;

/** Mode of a socket folder a listener makes (systemd: RuntimeDirectoryMode=0700). */
export const SOCKET_FOLDER_MODE = 0o700;

export interface SocketFolderPolicy {
  /** Who may own the folder; root may always own it. */
  owners: readonly number[];
  /**
   * `listen`: the folder must be closed to everyone but its owner (no access for group or
   * others), as a listener makes it. `connect`: it must not be writable by group or others,
   * so nobody else can have put a socket there.
   */
  use: 'listen' | 'connect';
}

/**
 * Why `dir` cannot be trusted to hold Unix sockets, or null when it can: it must be a real
 * folder (not a link), owned by root or one of `owners`, closed as `use` says; and nobody
 * else may be able to swap it or a folder above it for one of their own.
 */
export async function socketFolderProblem(dir: string, policy: SocketFolderPolicy): Promise<string | null> {
  if (!isAbsolute(dir)) return `${dir} is not an absolute path`;
  const trusted = new Set([0, ...policy.owners]);
  let stat: Stats;
  try {
    stat = await fs.lstat(dir);
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? `${dir} does not exist` : `${dir} cannot be examined (${errnoCode(err) ?? String(err)})`;
  }
  if (stat.isSymbolicLink()) return `${dir} is a symbolic link, not a folder`;
  if (!stat.isDirectory()) return `${dir} is not a folder`;
  if (!trusted.has(stat.uid)) return `${dir} is owned by uid ${stat.uid}, not by ${describeOwners(trusted)}`;
  const open = policy.use === 'listen' ? stat.mode & 0o077 : stat.mode & 0o022;
  if (open !== 0) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    return policy.use === 'listen' ? `${dir} is open to other users (mode ${mode}; it must be 0700)` : `${dir} is writable by other users (mode ${mode})`;
  }
  return ancestorProblem(dirname(dir), trusted);
}

/**
 * A folder above the socket folder that someone untrusted could rename or replace: along
 * the path as written (a link there is as safe as the folder holding it) and along the
 * real path it leads to.
 */
async function ancestorProblem(parent: string, trusted: ReadonlySet<number>): Promise<string | null> {
  let real: string;
  try {
    real = await fs.realpath(parent);
  } catch (err) {
    return `${parent} cannot be resolved (${errnoCode(err) ?? String(err)})`;
  }
  for (const folder of new Set([...prefixes(parent), ...prefixes(real)])) {
    const stat = await fs.lstat(folder);
    if (stat.isSymbolicLink()) continue;
    const sticky = (stat.mode & 0o1000) !== 0;
    if (!trusted.has(stat.uid)) return `${folder}, above the socket folder, is owned by uid ${stat.uid}, not by ${describeOwners(trusted)}`;
    if ((stat.mode & 0o022) !== 0 && !sticky) return `${folder}, above the socket folder, is writable by other users`;
  }
  return null;
}

/** `/`, `/a`, `/a/b` for `/a/b`. */
function prefixes(path: string): string[] {
  const { root } = parse(path);
  const parts = path.slice(root.length).split(sep).filter((p) => p !== '');
  return parts.map((_, i) => join(root, ...parts.slice(0, i + 1))).concat(root);
}

function describeOwners(trusted: ReadonlySet<number>): string {
  return [...trusted].map((uid) => (uid === 0 ? 'root' : `uid ${uid}`)).join(' or ');
}

/**
 * Makes ready to listen on a Unix socket at `path`: its folder is created 0700 if missing,
 * and must then be this process's own and closed to others; a socket this process's user
 * left behind (a crash) is removed once nothing answers on it. Anything else at `path` is
 * refused, never removed.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  if (!isAbsolute(path)) throw new Error(`${path}: a socket path must be absolute`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new Error(`${path}: a socket path may have at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  const dir = dirname(path);
  const uid = process.geteuid?.() ?? 0;
  await makeDir(dir, SOCKET_FOLDER_MODE);
  const problem = await socketFolderProblem(dir, { owners: [uid], use: 'listen' });
  if (problem !== null) throw new Error(`refusing to listen on ${path}: ${problem}`);
  const stat = await fs.lstat(path).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  });
  if (stat === null) return;
  if (!stat.isSocket() || stat.uid !== uid) throw new Error(`refusing to listen on ${path}: something else is there (not a socket of uid ${uid})`);
  if (await answers(path)) throw new Error(`refusing to listen on ${path}: another process listens there`);
  await fs.rm(path, { force: true });
}

/**
 * The socket `name` in a folder a listener of `owners` keeps, once the folder passed
 * socketFolderProblem's `connect` checks and a socket is there; throws why not otherwise.
 */
export async function trustedSocketPath(dir: string, name: string, owners: readonly number[]): Promise<string> {
  const problem = await socketFolderProblem(dir, { owners, use: 'connect' });
  if (problem !== null) throw new Error(`refusing to connect through ${dir}: ${problem}`);
  const path = join(dir, name);
  const stat = await fs.lstat(path).catch(() => null);
  if (stat === null) throw new Error(`${path} does not exist: nothing listens there yet`);
  if (!stat.isSocket()) throw new Error(`refusing to connect to ${path}: it is not a socket`);
  return path;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
