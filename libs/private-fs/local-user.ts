import { spawnSync } from 'node:child_process';
import type { FileOwner } from './private-files';

export interface LocalUser extends FileOwner {
  name: string;
}

/**
 * A local user named as in a systemd unit's User=: a name (looked up through NSS with
 * getent, so directory users work too) or `uid:gid`. Throws with the reason when there is none.
 */
export function resolveLocalUser(spec: string): LocalUser {
  const numeric = /^(\d+):(\d+)$/.exec(spec);
  if (numeric) return { name: spec, uid: Number(numeric[1]), gid: Number(numeric[2]) };
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(spec)) throw new Error(`'${spec}' is not a user name or uid:gid`);
  const found = spawnSync('getent', ['passwd', spec], { encoding: 'utf8', timeout: 10_000 });
  if (found.error) throw new Error(`cannot look user '${spec}' up: ${found.error.message}`);
  // getent passwd: name:password:uid:gid:gecos:home:shell
  const fields = found.stdout.split('\n')[0]?.split(':') ?? [];
  if (found.status !== 0 || fields.length < 4 || !/^\d+$/.test(fields[2] ?? '') || !/^\d+$/.test(fields[3] ?? '')) {
    throw new Error(`there is no user '${spec}' on this host`);
  }
  return { name: spec, uid: Number(fields[2]), gid: Number(fields[3]) };
}
