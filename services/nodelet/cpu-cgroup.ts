import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from './atomic-file';

export const STATUS_CGROUP = 'pf9-kube-status';
/** The CFS period: one second, as Platform9 sets it; the quota is CPU_LIMIT percent of it. */
export const CFS_PERIOD_US = 1_000_000;

/** A CPU-limited cgroup that status checks join: the `cgroup.procs` files a process writes its pid to. */
export interface CpuCgroup {
  version: 1 | 2;
  /** Every cgroup folder created for it (v1: one per hierarchy, cpu and a separate cpuacct). */
  dirs: string[];
  procsFiles: string[];
  quotaUs: number;
}

export type CgroupSetup = { ok: true; cgroup: CpuCgroup } | { ok: false; reason: string };

/**
 * Creates (or updates) the cgroup `pf9-kube-status` under `root` (normally /sys/fs/cgroup)
 * limited to `cpuLimit` percent of one CPU, written directly: v2 `cpu.max`, or v1
 * `cpu.cfs_period_us` and `cpu.cfs_quota_us`. Answers why not when it cannot.
 */
export async function setupStatusCgroup(root: string, cpuLimit: number): Promise<CgroupSetup> {
  if (!Number.isFinite(cpuLimit) || cpuLimit <= 0 || cpuLimit > 100) {
    return { ok: false, reason: `CPU_LIMIT ${cpuLimit} is outside (0, 100]` };
  }
  const quotaUs = Math.max(1000, Math.round((cpuLimit / 100) * CFS_PERIOD_US));
  try {
    if (existsSync(join(root, 'cgroup.controllers'))) return await setupV2(root, quotaUs);
    return await setupV1(root, quotaUs);
  } catch (err) {
    return { ok: false, reason: `cannot set up the cgroup under ${root}: ${errnoCode(err) ?? ''} ${(err as Error).message}`.trim() };
  }
}

async function setupV2(root: string, quotaUs: number): Promise<CgroupSetup> {
  const controllers = (await fs.readFile(join(root, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  if (!controllers.includes('cpu')) return { ok: false, reason: `the cpu controller is not available in ${root} (cgroup v2)` };
  const subtree = join(root, 'cgroup.subtree_control');
  const enabled = (await fs.readFile(subtree, 'utf8').catch(() => '')).split(/\s+/);
  if (!enabled.includes('cpu') && !enabled.includes('+cpu')) await fs.writeFile(subtree, '+cpu');
  const dir = join(root, STATUS_CGROUP);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, 'cpu.max'), `${quotaUs} ${CFS_PERIOD_US}`);
  return { ok: true, cgroup: { version: 2, dirs: [dir], procsFiles: [join(dir, 'cgroup.procs')], quotaUs } };
}

async function setupV1(root: string, quotaUs: number): Promise<CgroupSetup> {
  const cpuMount = ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'].map((m) => join(root, m)).find((m) => existsSync(join(m, 'cpu.cfs_quota_us')));
  if (cpuMount === undefined) return { ok: false, reason: `no cgroup v1 cpu controller (cpu.cfs_quota_us) and no cgroup v2 under ${root}` };
  const dir = join(cpuMount, STATUS_CGROUP);
  await fs.mkdir(dir, { recursive: true });
  // The period first: a quota is checked against the period in force.
  await fs.writeFile(join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
  await fs.writeFile(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  const dirs = [dir];
  // Where cpuacct is a hierarchy of its own, join it too, so the cgroup's CPU use is accounted.
  const acct = join(root, 'cpuacct');
  if (existsSync(join(acct, 'cpuacct.usage')) && !existsSync(join(cpuMount, 'cpuacct.usage'))) {
    const acctDir = join(acct, STATUS_CGROUP);
    await fs.mkdir(acctDir, { recursive: true });
    dirs.push(acctDir);
  }
  return { ok: true, cgroup: { version: 1, dirs, procsFiles: dirs.map((d) => join(d, 'cgroup.procs')), quotaUs } };
}
