import { rm } from 'node:fs/promises';
import { parseStatus, type KubeStatus } from '../../libs/kube-status';
import { readOptional, writeFileAtomic } from './atomic-file';

export { emptyStatus, NODE_STATES, parseStatus, PHASE_STATES } from '../../libs/kube-status';
export type { EtcdBackupStatus, KubeStatus, NodeState, PhaseState, PhaseStatus } from '../../libs/kube-status';

/** Reads and writes the status file, atomically. */
export class StatusFile {
  constructor(readonly file: string) {}

  /** The status on disk, or null when there is none or it cannot be read as one. */
  async read(): Promise<KubeStatus | null> {
    const text = await readOptional(this.file);
    if (text === undefined) return null;
    return parseStatus(text);
  }

  async write(status: KubeStatus): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(status, null, 1)}\n`, 0o644);
  }

  async remove(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

