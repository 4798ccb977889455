import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import type { Logger } from '#logging';
import { readOptional, syncFolder, uniqueSuffix, writeFileAtomic } from './atomic-file';
import type { EtcdBackupConfig } from './node-config';
import type { EtcdBackupStatus } from './status-file';

export interface SnapshotInfo {
  file: string;
  sizeBytes: number;
  revision: number;
  at: string;
}

export interface EtcdBackupRecord {
  lastSuccess?: SnapshotInfo;
  lastFailure?: { at: string; error: string };
}

export interface EtcdTools {
  /** etcdctl (snapshot save; status and restore too on etcd 3.4, which has no etcdutl). */
  etcdctl: string;
  /** etcdutl where it exists (etcd 3.5+): snapshot status and restore. */
  etcdutl: string | null;
}

/** Client TLS for an https endpoint, from ETCD_BACKUP_CACERT / _CERT / _KEY. */
export interface EtcdClientTls {
  cacert?: string;
  cert?: string;
  key?: string;
}

const SNAPSHOT_NAME = /^etcd-snapshot-(\d{8}T\d{6}\.\d{3}Z)\.db$/;
const TOOL_TIMEOUT_MS = 11 * 60_000;
/** A failed backup is tried again this soon (or at the next schedule, if sooner). */
const RETRY_AFTER_MS = 5 * 60_000;

export class EtcdBackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EtcdBackupError';
  }
}

/** Finds etcdctl and etcdutl on PATH (or as given). */
export function findEtcdTools(etcdctl = 'etcdctl', path = process.env.PATH ?? ''): EtcdTools {
  const which = (name: string): string | null => {
    if (name.includes('/')) return existsSync(name) ? name : null;
    for (const dir of path.split(delimiter)) if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
    return null;
  };
  return { etcdctl: which(etcdctl) ?? etcdctl, etcdutl: which('etcdutl') };
}

/**
 * One snapshot of the local etcd member: saved under a temporary name, verified by
 * restoring it into a scratch folder, then renamed to a name made of the time. Older
 * snapshots are pruned to `keep` only after the new one is verified, so the last good
 * one is never deleted.
 */
export async function takeSnapshot(config: Pick<EtcdBackupConfig, 'endpoint' | 'dir' | 'keep'>, tools: EtcdTools, tls: EtcdClientTls = {}, now = new Date()): Promise<SnapshotInfo> {
  await fs.mkdir(config.dir, { recursive: true, mode: 0o700 });
  // 20250101T120000.123Z: sorts by time, and two snapshots within a second do not collide.
  const stamp = now.toISOString().replace(/[-:]/g, '');
  const final = join(config.dir, `etcd-snapshot-${stamp}.db`);
  const temp = join(config.dir, `.etcd-snapshot-${stamp}-${uniqueSuffix()}.db.part`);
  let revision: number;
  try {
    // A member that does not answer fails here in seconds, not at the end of the save's long timeout.
    await run(tools.etcdctl, ['--endpoints', config.endpoint, ...tlsFlags(tls), '--dial-timeout=3s', '--command-timeout=5s', 'endpoint', 'health'], `endpoint health (${config.endpoint})`);
    await run(tools.etcdctl, ['--endpoints', config.endpoint, ...tlsFlags(tls), '--dial-timeout=5s', '--command-timeout=600s', 'snapshot', 'save', temp], `snapshot save (${config.endpoint})`);
    await fs.chmod(temp, 0o600);
    ({ revision } = await verifySnapshot(temp, tools));
    const handle = await fs.open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, final);
    await syncFolder(config.dir);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err instanceof EtcdBackupError ? err : new EtcdBackupError((err as Error).message);
  }
  const sizeBytes = (await fs.stat(final)).size;
  await pruneSnapshots(config.dir, config.keep, final);
  return { file: final, sizeBytes, revision, at: now.toISOString() };
}

/** Counts a snapshot good only if it restores: its revision read, then a restore into a scratch folder. */
export async function verifySnapshot(file: string, tools: EtcdTools): Promise<{ revision: number }> {
  const revision = await verifyRevisionOnly(file, tools);
  if (revision === null) throw new EtcdBackupError(`${basename(file)}: its status cannot be read: not an etcd snapshot`);
  const scratch = await fs.mkdtemp(join(dirname(file), '.verify-'));
  try {
    await restoreInto(file, join(scratch, 'data'), tools, { name: 'verify', peerUrl: 'http://127.0.0.1:2380' });
    if (!existsSync(join(scratch, 'data', 'member', 'snap', 'db'))) throw new EtcdBackupError(`${basename(file)}: the restore made no member/snap/db`);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return { revision };
}

async function verifyRevisionOnly(file: string, tools: EtcdTools): Promise<number | null> {
  try {
    const out = await run(tools.etcdutl ?? tools.etcdctl, ['snapshot', 'status', file, '-w', 'json']);
    const parsed = JSON.parse(out) as { revision?: unknown };
    return typeof parsed.revision === 'number' ? parsed.revision : null;
  } catch {
    return null;
  }
}

export interface RestoreOptions {
  name: string;
  peerUrl: string;
  /** `name=peerUrl,…` of the cluster the member belongs to; defaults to the member alone. */
  initialCluster?: string;
}

/**
 * Restores `file` into `dataDir` (which must not exist): into a temporary folder beside
 * it first, renamed into place only once the restore is complete.
 */
export async function restoreSnapshot(file: string, dataDir: string, tools: EtcdTools, options: RestoreOptions): Promise<void> {
  if (!existsSync(file)) throw new EtcdBackupError(`${file} does not exist`);
  if (existsSync(dataDir)) throw new EtcdBackupError(`${dataDir} exists: restore into a folder that does not exist yet (move the old data away first)`);
  await fs.mkdir(dirname(dataDir), { recursive: true });
  const temp = join(dirname(dataDir), `.${basename(dataDir)}.restoring-${uniqueSuffix()}`);
  try {
    await restoreInto(file, temp, tools, options);
    await fs.chmod(temp, 0o700);
    await fs.rename(temp, dataDir);
    await syncFolder(dirname(dataDir));
  } catch (err) {
    await fs.rm(temp, { recursive: true, force: true });
    throw err instanceof EtcdBackupError ? err : new EtcdBackupError((err as Error).message);
  }
}

async function restoreInto(file: string, dataDir: string, tools: EtcdTools, options: RestoreOptions): Promise<void> {
  await run(tools.etcdutl ?? tools.etcdctl, [
    'snapshot',
    'restore',
    file,
    '--data-dir',
    dataDir,
    '--name',
    options.name,
    '--initial-cluster',
    options.initialCluster ?? `${options.name}=${options.peerUrl}`,
    '--initial-advertise-peer-urls',
    options.peerUrl,
  ]);
}

/** Keeps the newest `keep` snapshots (never `newest`), removes the older ones and leftovers of interrupted runs. */
export async function pruneSnapshots(dir: string, keep: number, newest: string): Promise<string[]> {
  const names = await fs.readdir(dir);
  const snapshots = names.filter((n) => SNAPSHOT_NAME.test(n)).sort().reverse();
  const removed: string[] = [];
  for (const name of snapshots.slice(Math.max(1, keep))) {
    if (join(dir, name) === newest) continue;
    await fs.rm(join(dir, name), { force: true });
    removed.push(name);
  }
  for (const name of names.filter((n) => n.endsWith('.db.part') || n.startsWith('.verify-'))) await fs.rm(join(dir, name), { recursive: true, force: true });
  return removed;
}

function tlsFlags(tls: EtcdClientTls): string[] {
  return [
    ...(tls.cacert ? ['--cacert', tls.cacert] : []),
    ...(tls.cert ? ['--cert', tls.cert] : []),
    ...(tls.key ? ['--key', tls.key] : []),
  ];
}

/** Runs an etcd tool; its failure says which (`label`) and the tool's last words. */
function run(command: string, args: string[], label = args.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      // Only what the tools need: kube.env's ETCD_* variables would be read as flags.
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' }, timeout: TOOL_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout || err.message).trim().split('\n').slice(-3).join(' ');
          reject(new EtcdBackupError(`${basename(command)} ${label}: ${detail}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** When the next backup is due, from the schedule and the record. */
export function nextBackupAt(config: Pick<EtcdBackupConfig, 'intervalMins' | 'dailyAt'>, record: EtcdBackupRecord, now: Date): Date {
  const lastSuccess = record.lastSuccess ? new Date(record.lastSuccess.at) : null;
  const lastFailure = record.lastFailure ? new Date(record.lastFailure.at) : null;
  let due: Date;
  if (config.dailyAt) {
    const today = new Date(now);
    today.setHours(config.dailyAt.hour, config.dailyAt.minute, 0, 0);
    if (today.getTime() <= now.getTime()) {
      due = lastSuccess && lastSuccess.getTime() >= today.getTime() ? new Date(today.getTime() + 24 * 3600_000) : now;
    } else {
      due = today;
    }
  } else {
    due = lastSuccess ? new Date(lastSuccess.getTime() + config.intervalMins * 60_000) : now;
  }
  if (lastFailure && (!lastSuccess || lastFailure > lastSuccess)) {
    const retry = new Date(lastFailure.getTime() + RETRY_AFTER_MS);
    if (retry > due) due = retry;
  }
  return due;
}

export function expectedIntervalS(config: Pick<EtcdBackupConfig, 'intervalMins' | 'dailyAt'>): number {
  return config.dailyAt ? 86_400 : config.intervalMins * 60;
}

/** What the status file (and the plane) learn of backups; stale past twice the expected interval. */
export function backupStatus(config: Pick<EtcdBackupConfig, 'intervalMins' | 'dailyAt'>, record: EtcdBackupRecord, now: Date): EtcdBackupStatus {
  const expected = expectedIntervalS(config);
  const success = record.lastSuccess;
  const stale = success ? now.getTime() - new Date(success.at).getTime() > 2 * expected * 1000 : record.lastFailure !== undefined;
  return {
    ...(success
      ? { last_success_at: success.at, last_success_file: success.file, last_success_size_bytes: success.sizeBytes, last_success_revision: success.revision }
      : {}),
    ...(record.lastFailure ? { last_failure_at: record.lastFailure.at, last_error: record.lastFailure.error } : {}),
    expected_interval_s: expected,
    stale,
  };
}

/** The record of the last success and failure, kept in nodelet's state folder. */
export class EtcdBackupRecordFile {
  constructor(private readonly file: string) {}

  async read(): Promise<EtcdBackupRecord> {
    const text = await readOptional(this.file);
    if (text === undefined) return {};
    try {
      const parsed = JSON.parse(text) as EtcdBackupRecord;
      return typeof parsed === 'object' && parsed !== null ? parsed : {};
    } catch {
      return {};
    }
  }

  async write(record: EtcdBackupRecord): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(record, null, 1)}\n`, 0o600);
  }
}

/**
 * nodelet's own backup job: on the schedule when ETCD_BACKUP_ENABLED is true, now when
 * asked (`nodeletd etcd-backup now`, or before an etcd version change). One at a time.
 */
export class EtcdBackupJob {
  private config: EtcdBackupConfig | null = null;
  private tls: EtcdClientTls = {};
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SnapshotInfo> | null = null;
  private record: EtcdBackupRecord = {};
  private stopped = false;

  constructor(
    private readonly recordFile: EtcdBackupRecordFile,
    private readonly tools: EtcdTools,
    private readonly logger: Logger,
    /** Told after every backup, with its outcome. */
    private readonly onChange: (outcome: 'ok' | 'failed') => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async init(): Promise<void> {
    this.record = await this.recordFile.read();
  }

  configure(config: EtcdBackupConfig, tls: EtcdClientTls): void {
    this.config = config;
    this.tls = tls;
    this.schedule();
  }

  status(): EtcdBackupStatus | undefined {
    if (!this.config || (!this.config.enabled && !this.record.lastSuccess && !this.record.lastFailure)) return undefined;
    return backupStatus(this.config, this.record, this.now());
  }

  /** Takes a snapshot now (joining one under way). */
  runNow(override?: Partial<EtcdBackupConfig>): Promise<SnapshotInfo> {
    if (this.running) return this.running;
    const config = { ...this.requireConfig(), ...override };
    this.running = this.take(config).finally(() => {
      this.running = null;
      this.schedule();
    });
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async take(config: EtcdBackupConfig): Promise<SnapshotInfo> {
    let outcome: 'ok' | 'failed' = 'failed';
    try {
      const info = await takeSnapshot(config, this.tools, this.tls, this.now());
      this.record = { ...this.record, lastSuccess: info };
      this.logger.info('etcd snapshot taken and verified', { file: info.file, sizeBytes: info.sizeBytes, revision: info.revision });
      outcome = 'ok';
      return info;
    } catch (err) {
      const error = (err as Error).message;
      this.record = { ...this.record, lastFailure: { at: this.now().toISOString(), error } };
      this.logger.error('etcd backup failed; the snapshots kept so far stay', { err: error, endpoint: config.endpoint });
      throw err;
    } finally {
      await this.recordFile.write(this.record).catch((err: unknown) => this.logger.warn('cannot write the etcd backup record', { err: String(err) }));
      this.onChange(outcome);
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const config = this.config;
    if (this.stopped || !config?.enabled) return;
    const due = nextBackupAt(config, this.record, this.now());
    const delay = Math.min(Math.max(0, due.getTime() - this.now().getTime()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runNow().catch(() => undefined);
    }, delay);
    this.timer.unref();
  }

  private requireConfig(): EtcdBackupConfig {
    if (!this.config) throw new EtcdBackupError('no nodelet configuration yet');
    return this.config;
  }
}
