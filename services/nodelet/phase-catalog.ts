import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from './atomic-file';
import type { NodeRole } from './node-config';

export type PhaseKind = 'sh' | 'js' | 'ts';

/** One phase script: `NNN-name.sh` (or a `.js` / `.ts` module of the same shape). */
export interface Phase {
  order: number;
  name: string;
  /** The file's name, e.g. `020-certificates.sh`. */
  file: string;
  path: string;
  kind: PhaseKind;
  roles: NodeRole[];
}

export class PhaseCatalogError extends Error {
  constructor(
    readonly dir: string,
    readonly problems: string[],
  ) {
    super(`phases in ${dir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PhaseCatalogError';
  }
}

const PHASE_FILE = /^(\d{1,6})-([A-Za-z0-9][A-Za-z0-9_.-]*)\.(sh|js|ts)$/;
/** `# nodelet-roles: master worker` (or `//`) in a phase's first lines says which roles run it. */
const ROLES_LINE = /^\s*(?:#|\/\/)\s*nodelet-roles:\s*(.*)$/m;
const DEFAULT_ROLES: NodeRole[] = ['master', 'worker'];
const HEADER_BYTES = 4096;

/**
 * Every phase in `dir`, sorted by order. Order numbers are sparse and must be unique; a
 * `.sh` phase must be executable. Files that do not look like phases are ignored.
 */
export async function readPhaseCatalog(dir: string): Promise<Phase[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new PhaseCatalogError(dir, ['the folder does not exist (PHASES_DIR)']);
    throw err;
  }
  const problems: string[] = [];
  const phases: Phase[] = [];
  for (const file of names.sort()) {
    const match = PHASE_FILE.exec(file);
    if (!match) continue;
    const path = join(dir, file);
    const stat = await fs.stat(path).catch(() => null);
    if (!stat?.isFile()) continue;
    const kind = match[3] as PhaseKind;
    if (kind === 'sh' && !(await isExecutable(path))) {
      problems.push(`${file} is not executable (chmod +x)`);
      continue;
    }
    const roles = parseRoles(await readHeader(path));
    if (typeof roles === 'string') {
      problems.push(`${file}: ${roles}`);
      continue;
    }
    phases.push({ order: Number(match[1]), name: match[2], file, path, kind, roles });
  }
  // Plain comparison: localeCompare would load ICU's collation data (megabytes) for a tie-break.
  phases.sort((a, b) => a.order - b.order || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (let i = 1; i < phases.length; i++) {
    if (phases[i].order === phases[i - 1].order) problems.push(`${phases[i - 1].file} and ${phases[i].file} have the same order ${phases[i].order}: order numbers must be unique`);
  }
  if (problems.length > 0) throw new PhaseCatalogError(dir, problems);
  return phases;
}

/** The phases a node of `role` runs, in order. */
export function phasesFor(catalog: Phase[], role: NodeRole): Phase[] {
  return catalog.filter((p) => p.roles.includes(role));
}

/** Platform9's certificates phase: not redone on a restart unless its own status failed. */
export function isCertificatesPhase(phase: Pick<Phase, 'name'>): boolean {
  return /cert/i.test(phase.name);
}

function parseRoles(header: string): NodeRole[] | string {
  const line = ROLES_LINE.exec(header);
  if (!line) return DEFAULT_ROLES;
  const words = line[1].trim().split(/[\s,]+/).filter((w) => w !== '');
  const roles: NodeRole[] = [];
  for (const word of words) {
    if (word !== 'master' && word !== 'worker' && word !== 'none') return `nodelet-roles names '${word}': expected master, worker or none`;
    roles.push(word);
  }
  return roles.length === 0 ? 'nodelet-roles names no role' : roles;
}

async function readHeader(path: string): Promise<string> {
  const handle = await fs.open(path, 'r');
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await fs.access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
