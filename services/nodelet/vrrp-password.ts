import { readOptional, writeFileAtomic } from './atomic-file';

/** keepalived's PASS authentication takes at most 8 characters. */
export const VRRP_PASSWORD_LENGTH = 8;

/**
 * The VRRP password of a cluster's VIP: an HMAC of the cluster id and router id under a
 * key kept in nodelet's state (mode 0600, made at random on first use). It differs from
 * cluster to cluster, so two clusters that share a segment and a router id do not take
 * each other's VIP; every master of a cluster must hold the same key (copy it with the
 * cluster's certificates). It reaches only the keepalived phase's environment and
 * keepalived.conf (mode 0600), never a log or kube.env.
 */
export function vrrpPassword(key: Buffer, clusterId: string, vrouterId: number): string {
  return crypto().createHmac('sha256', key).update(`pf9-vrrp\0${clusterId}\0${vrouterId}`).digest('base64url').slice(0, VRRP_PASSWORD_LENGTH);
}

/** The key in `file`, made (32 random bytes, hex) if there is none. */
export async function loadOrCreateClusterKey(file: string): Promise<Buffer> {
  const text = await readOptional(file);
  if (text !== undefined && /^[0-9a-f]{64}\s*$/.test(text)) return Buffer.from(text.trim(), 'hex');
  if (text !== undefined) throw new Error(`${file} does not hold a key (64 hex digits); remove it to have a new one made`);
  const key = crypto().randomBytes(32);
  await writeFileAtomic(file, `${key.toString('hex')}\n`, 0o600);
  return key;
}

/** node:crypto when a VIP needs it: loading it costs every node a few MB of its memory budget. */
function crypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}
