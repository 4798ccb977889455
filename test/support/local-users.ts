import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A local user, by numbers. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * These tests create users and run code as other users (setpriv): they need root, and say
 * so plainly when they do not have it (never a skip).
 */
export function requireRoot(what: string): void {
  if (process.geteuid?.() !== 0) throw new Error(`${what} needs root (it runs code as other local users with setpriv): run the tests as root`);
  for (const tool of ['setpriv', 'useradd', 'userdel']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0) throw new Error(`${what} needs ${tool} (Debian: util-linux, passwd)`);
  }
}

export function userByName(name: string): TestUser {
  const id = (flag: string): number => {
    const out = spawnSync('id', [flag, name], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`no user ${name}: ${out.stderr.trim()}`);
    return Number(out.stdout.trim());
  };
  return { name, uid: id('-u'), gid: id('-g') };
}

/** A system user of its own for one test, removed by `remove()`. */
export function createTestUser(prefix: string): TestUser & { remove(): void } {
  const name = `${prefix}${randomBytes(3).toString('hex')}`.slice(0, 31);
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`useradd ${name} failed: ${made.stderr.trim()}`);
  return { ...userByName(name), remove: () => void spawnSync('userdel', [name]) };
}

/** setpriv's arguments to run a program as `user` (its own group only). */
function asUserArgs(user: TestUser): string[] {
  return ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--'];
}

/** What `user` gets when it tries: `ok`, or the error code (EACCES, ENOENT, ...). */
export type Attempt = 'read' | 'list' | 'connect' | 'listen';

/** Tries `attempt` on `path` as `user`, in a node process of its own; answers `ok` or the error code. */
export function tryAs(user: TestUser, attempt: Attempt, path: string): string {
  const script = `
    const fs = require('node:fs'), net = require('node:net');
    const [attempt, path] = process.argv.slice(1);
    const done = (result) => { process.stdout.write(result); process.exit(0); };
    const failed = (err) => done(err.code || String(err));
    try {
      if (attempt === 'read') { fs.readFileSync(path); done('ok'); }
      else if (attempt === 'list') { fs.readdirSync(path); done('ok'); }
      else if (attempt === 'connect') { const s = net.connect({ path }); s.once('connect', () => done('ok')); s.once('error', failed); }
      else if (attempt === 'listen') { const s = net.createServer(); s.once('error', failed); s.listen(path, () => s.close(() => done('ok'))); }
    } catch (err) { failed(err); }`;
  const result = spawnSync('setpriv', [...asUserArgs(user), process.execPath, '-e', script, attempt, path], { encoding: 'utf8', timeout: 15_000 });
  if (result.status !== 0) throw new Error(`setpriv as ${user.name} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** Starts a node script as `user`, its output kept. */
export function spawnAs(user: TestUser, args: string[], env: NodeJS.ProcessEnv, cwd?: string): ChildProcess {
  return spawn('setpriv', [...asUserArgs(user), process.execPath, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}
