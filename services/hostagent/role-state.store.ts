import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DesiredRole, HostState, RoleState } from '#contracts';
import { ensurePrivateDir, writeFileAtomic } from '#private-fs';
import { HostFileModes } from './host-files';

/** A role as it is on this host now. */
export interface InstalledRole {
  name: string;
  version: string;
  sha256: string;
  config: Record<string, unknown>;
  /** The desired generation this installation answers. */
  generation: number;
  state: RoleState;
  message?: string;
}

/** A desired generation that could not be applied, and when to try it again (not in a loop). */
export interface FailedApply {
  version: string;
  generation: number;
  /** Failures of the path to the plane (a download) are tried again at the next check too. */
  retryable: boolean;
  message: string;
  /** Failed attempts in a row at this generation (absent in a state written before they were counted: 1). */
  failures?: number;
  /** When the next attempt is due (epoch ms); absent: at once. */
  nextAttemptMs?: number;
  /** The plane's retry token (DesiredRole.retry) of the attempt that failed: a new token asks for an attempt now. */
  retry?: number;
}

export interface AgentState {
  hostState: HostState;
  desiredGeneration: number;
  desired: DesiredRole[];
  installed: Record<string, InstalledRole>;
  failed: Record<string, FailedApply>;
}

export function emptyState(): AgentState {
  return { hostState: 'unauthorized', desiredGeneration: 0, desired: [], installed: {}, failed: {} };
}

/** The agent's own record of desired and installed roles, kept across restarts (written atomically; the roles' configs in it are the agent's alone). */
export class RoleStateStore {
  private writes: Promise<void> = Promise.resolve();
  private dirReady = false;

  constructor(private readonly file: string) {}

  async load(): Promise<AgentState> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<AgentState>;
    return { ...emptyState(), ...parsed };
  }

  /** Writes are serialised: each one leaves a whole file, and the last one wins. */
  save(state: AgentState): Promise<void> {
    const text = JSON.stringify(state, null, 2);
    const write = this.writes.then(async () => {
      if (!this.dirReady) await ensurePrivateDir(dirname(this.file), HostFileModes.stateDir);
      this.dirReady = true;
      await writeFileAtomic(this.file, text, HostFileModes.state);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}
