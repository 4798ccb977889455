import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostHeartbeatEvent } from '#contracts';
import { errnoCode } from './fs-primitives';

/** What a heartbeat says about the machine: the body of `host.heartbeat` minus what the agent adds. */
export type HostInventory = Omit<HostHeartbeatEvent, 'hostId' | 'agentVersion' | 'sentAt' | 'roles'>;

/** The parts of node:os the collector reads; the module itself is the default. */
export interface SystemInfoSource {
  hostname(): string;
  uptime(): number;
  cpus(): os.CpuInfo[];
  loadavg(): number[];
  totalmem(): number;
  freemem(): number;
  networkInterfaces(): NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  platform(): string;
  release(): string;
}

/** Block counts as statfs(2) gives them. */
export interface FsUsage {
  bsize: number;
  blocks: number;
  bfree: number;
}

export type StatFs = (mount: string) => Promise<FsUsage>;

export interface InventoryCollectorOptions {
  /** Where procfs is mounted: `meminfo` and `self/mounts` are read below it. */
  procRoot?: string;
  /** os-release(5) locations, first found wins. */
  osReleasePaths?: readonly string[];
  system?: SystemInfoSource;
  statfs?: StatFs;
  /** A hung network mount must not hang the heartbeat. */
  statfsTimeoutMs?: number;
}

/** File systems that hold no data of their own (kernel interfaces, memory, read-only images). */
const PSEUDO_FILESYSTEMS: ReadonlySet<string> = new Set([
  'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
  'efivarfs', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fuse.portal', 'fusectl', 'hugetlbfs', 'mqueue', 'nsfs',
  'proc', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tmpfs',
  'tracefs', 'iso9660', 'nfsd', 'rootfs', 'none',
]);

/** Device fields that name no device, so they cannot tell two mounts of one file system apart. */
const PLACEHOLDER_DEVICES: ReadonlySet<string> = new Set(['none', 'overlay', 'nodev']);

const MAX_LIST = 1024; // ArrayMaxSize of storage and network in the heartbeat
const MAX_ADDRESSES = 256;

interface CpuTimes {
  busy: number;
  total: number;
}

interface MountEntry {
  device: string;
  mount: string;
  fs: string;
}

const defaultStatfs: StatFs = (mount) => fs.statfs(mount);

export class InventoryCollector {
  private readonly procRoot: string;
  private readonly osReleasePaths: readonly string[];
  private readonly system: SystemInfoSource;
  private readonly statfs: StatFs;
  private readonly statfsTimeoutMs: number;
  /** Since boot until the first collect(), then the previous collect(). */
  private previousCpu: CpuTimes = { busy: 0, total: 0 };
  private lastUsagePct = 0;
  /** Mounts whose statfs has not answered yet: skipped rather than piling up stuck threads. */
  private readonly pendingStatfs = new Set<string>();

  constructor(options: InventoryCollectorOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.osReleasePaths = options.osReleasePaths ?? ['/etc/os-release', '/usr/lib/os-release'];
    this.system = options.system ?? os;
    this.statfs = options.statfs ?? defaultStatfs;
    this.statfsTimeoutMs = options.statfsTimeoutMs ?? 2000;
  }

  async collect(): Promise<HostInventory> {
    const [memory, storage, distro] = await Promise.all([this.memory(), this.storage(), this.distro()]);
    const cpus = this.system.cpus();
    const loadavg = this.system.loadavg();
    return {
      hostname: truncate(this.system.hostname(), 255),
      uptimeS: Math.max(0, Math.floor(this.system.uptime())),
      cpu: {
        model: truncate(cpus[0]?.model.trim() || 'unknown', 256),
        cores: cpus.length,
        loadavg: [0, 1, 2].map((i) => round(loadavg[i] ?? 0, 2)),
        usagePct: this.cpuUsagePct(cpus),
      },
      memory,
      storage,
      network: this.network(),
      os: {
        platform: truncate(this.system.platform(), 64),
        release: truncate(this.system.release(), 256),
        distro: truncate(distro, 256),
      },
    };
  }

  private cpuUsagePct(cpus: os.CpuInfo[]): number {
    const now: CpuTimes = { busy: 0, total: 0 };
    for (const { times } of cpus) {
      const busy = times.user + times.nice + times.sys + times.irq;
      now.busy += busy;
      now.total += busy + times.idle;
    }
    let base = this.previousCpu;
    // A CPU taken offline makes the sums shrink; measure from boot rather than report nonsense.
    if (now.total < base.total || now.busy < base.busy) base = { busy: 0, total: 0 };
    const total = now.total - base.total;
    this.previousCpu = now;
    // Two calls within one clock tick see no change: repeat the last figure instead of 0.
    if (total <= 0) return this.lastUsagePct;
    this.lastUsagePct = round(Math.min(100, Math.max(0, ((now.busy - base.busy) / total) * 100)), 1);
    return this.lastUsagePct;
  }

  private async memory(): Promise<HostInventory['memory']> {
    const info = await this.readMeminfo();
    return {
      totalBytes: info.get('MemTotal') ?? this.system.totalmem(),
      availableBytes: info.get('MemAvailable') ?? this.system.freemem(),
    };
  }

  private async readMeminfo(): Promise<Map<string, number>> {
    const text = await readOptional(path.join(this.procRoot, 'meminfo'));
    const out = new Map<string, number>();
    for (const line of (text ?? '').split('\n')) {
      const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(line);
      if (m) out.set(m[1], Number(m[2]) * (m[3] === 'kB' ? 1024 : 1));
    }
    return out;
  }

  private async storage(): Promise<HostInventory['storage']> {
    const text = await readOptional(path.join(this.procRoot, 'self', 'mounts'));
    const seen = new Set<string>();
    const candidates: MountEntry[] = [];
    for (const entry of parseMounts(text ?? '')) {
      if (PSEUDO_FILESYSTEMS.has(entry.fs)) continue;
      const key = PLACEHOLDER_DEVICES.has(entry.device) ? `${entry.device} ${entry.mount}` : entry.device;
      if (seen.has(key)) continue; // bind mounts and subvolumes of one device count once
      seen.add(key);
      candidates.push(entry);
    }
    const sized = await Promise.all(
      candidates.slice(0, MAX_LIST).map(async (entry) => {
        const usage = await this.statfsWithTimeout(entry.mount);
        if (usage === null || usage.blocks <= 0) return null;
        return {
          mount: truncate(entry.mount, 4096),
          fs: truncate(entry.fs, 64),
          totalBytes: usage.blocks * usage.bsize,
          usedBytes: Math.max(0, usage.blocks - usage.bfree) * usage.bsize,
        };
      }),
    );
    return sized.filter((s) => s !== null);
  }

  private async statfsWithTimeout(mount: string): Promise<FsUsage | null> {
    if (this.pendingStatfs.has(mount)) return null;
    this.pendingStatfs.add(mount);
    const call = this.statfs(mount).then(
      (usage) => usage,
      () => null, // unmounted meanwhile, or no permission: leave it out
    );
    void call.finally(() => this.pendingStatfs.delete(mount));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.statfsTimeoutMs);
    });
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private network(): HostInventory['network'] {
    const out: HostInventory['network'] = [];
    for (const [name, infos] of Object.entries(this.system.networkInterfaces())) {
      if (infos === undefined || infos.length === 0) continue;
      if (name === 'lo' || infos.every((i) => i.internal)) continue; // loopback
      out.push({
        name: truncate(name, 64),
        mac: infos[0].mac,
        addresses: infos.slice(0, MAX_ADDRESSES).map((i) => ({
          family: i.family,
          address: i.address,
          cidr: i.cidr ?? i.address,
        })),
      });
      if (out.length === MAX_LIST) break;
    }
    return out;
  }

  private async distro(): Promise<string> {
    for (const file of this.osReleasePaths) {
      const text = await readOptional(file);
      if (text === null) continue;
      return parseOsRelease(text).get('PRETTY_NAME') ?? 'unknown';
    }
    return 'unknown';
  }
}

/** /proc/self/mounts: `device mountpoint fstype options dump pass`, with spaces and the like as octal escapes. */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 3 || fields[0] === '') continue;
    out.push({ device: unescapeMountField(fields[0]), mount: unescapeMountField(fields[1]), fs: fields[2] });
  }
  return out;
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** os-release(5): shell-style `KEY=value` lines, values optionally quoted. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out.set(m[1], value);
  }
  return out;
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return null;
    throw err;
  }
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
