import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { HOST_ID_PATTERN } from '#contracts';
import { errnoCode, writeFileAtomic } from '#private-fs';

const SECTION = 'hostagent';
const KEY = 'host_id';
export const HOST_ID_MODE = 0o644;

/** Where a host keeps its identity, under PF9_ROOT. */
export function hostIdFilePath(root: string): string {
  return path.join(root, 'etc', 'pf9', 'host_id.conf');
}

export type ParsedHostId = { ok: true; hostId: string } | { ok: false; problem: string };

/** Reads `host_id` from the `[hostagent]` section of an INI text. */
export function parseHostIdConf(text: string): ParsedHostId {
  let section = '';
  let value: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (pair && section === SECTION && pair[1] === KEY) value = pair[2];
  }
  if (value === undefined) return { ok: false, problem: `no "${KEY}" in section [${SECTION}]` };
  if (!HOST_ID_PATTERN.test(value)) return { ok: false, problem: `"${KEY}" value ${JSON.stringify(value)} does not match ${HOST_ID_PATTERN}` };
  return { ok: true, hostId: value };
}

export function formatHostIdConf(hostId: string): string {
  return `[${SECTION}]\n${KEY} = ${hostId}\n`;
}

/**
 * Returns this host's id, creating it on first start. A file that exists but does not hold a
 * valid id is an error, never a reason to mint a new one: a host that changes identity loses
 * its authorization and its roles in the plane.
 */
export async function loadOrCreateHostId(root: string, newId: () => string = randomUUID): Promise<string> {
  const file = hostIdFilePath(root);
  const existing = await readHostIdFile(file);
  if (existing !== null) return existing;

  const hostId = newId();
  if (!HOST_ID_PATTERN.test(hostId)) throw new Error(`generated host id ${JSON.stringify(hostId)} does not match ${HOST_ID_PATTERN}`);
  return createHostIdFile(file, hostId);
}

async function readHostIdFile(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  const parsed = parseHostIdConf(text);
  if (!parsed.ok) {
    throw new Error(
      `host identity file ${file} is corrupt (${parsed.problem}); refusing to create a new host id. ` +
        `Restore the file, or remove it to register this machine as a new host.`,
    );
  }
  return parsed.hostId;
}

async function createHostIdFile(file: string, hostId: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Not a secret (the host's certificate names it too): readable by the host's other services.
  // The first writer wins, so when two agents start at once both return its id.
  if (await writeFileAtomic(file, formatHostIdConf(hostId), HOST_ID_MODE, { noReplace: true })) return hostId;
  const winner = await readHostIdFile(file);
  if (winner === null) throw new Error(`host identity file ${file} vanished while it was being created`);
  return winner;
}
