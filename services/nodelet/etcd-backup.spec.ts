import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupStatus, nextBackupAt, pruneSnapshots } from './etcd-backup';

const at = (iso: string): Date => new Date(iso);

describe('etcd backup schedule', () => {
  test('every ETCD_BACKUP_INTERVAL_MINS after the last success; at once when there was none', () => {
    const config = { intervalMins: 60, dailyAt: null };
    assert.equal(nextBackupAt(config, {}, at('2025-03-01T10:00:00Z')).toISOString(), '2025-03-01T10:00:00.000Z');
    const record = { lastSuccess: { at: '2025-03-01T10:00:00.000Z', file: 'f', sizeBytes: 1, revision: 1 } };
    assert.equal(nextBackupAt(config, record, at('2025-03-01T10:20:00Z')).toISOString(), '2025-03-01T11:00:00.000Z');
  });

  test('daily at ETCD_BACKUP_DAILY_AT (local time): today if not yet taken after it, else tomorrow', () => {
    const config = { intervalMins: 1440, dailyAt: { hour: 2, minute: 30 } };
    const today = (h: number, m: number): Date => {
      const d = new Date(2025, 2, 1, h, m, 0, 0);
      return d;
    };
    assert.equal(nextBackupAt(config, {}, today(1, 0)).getTime(), today(2, 30).getTime(), 'before the time: at the time');
    assert.equal(nextBackupAt(config, {}, today(3, 0)).getTime(), today(3, 0).getTime(), 'past it, not taken today: now');
    const taken = { lastSuccess: { at: today(2, 31).toISOString(), file: 'f', sizeBytes: 1, revision: 1 } };
    assert.equal(nextBackupAt(config, taken, today(3, 0)).getTime(), today(2, 30).getTime() + 24 * 3600_000, 'taken: tomorrow');
  });

  test('a failure is tried again after five minutes, not in a loop', () => {
    const config = { intervalMins: 60, dailyAt: null };
    const record = { lastFailure: { at: '2025-03-01T10:00:00.000Z', error: 'down' } };
    assert.equal(nextBackupAt(config, record, at('2025-03-01T10:01:00Z')).toISOString(), '2025-03-01T10:05:00.000Z');
  });

  test('stale past twice the expected interval, or when the only attempt failed', () => {
    const config = { intervalMins: 60, dailyAt: null };
    const success = { lastSuccess: { at: '2025-03-01T10:00:00.000Z', file: '/b/s.db', sizeBytes: 42, revision: 7 } };
    const fresh = backupStatus(config, success, at('2025-03-01T11:59:00Z'));
    assert.deepEqual(fresh, { last_success_at: '2025-03-01T10:00:00.000Z', last_success_file: '/b/s.db', last_success_size_bytes: 42, last_success_revision: 7, expected_interval_s: 3600, stale: false });
    assert.equal(backupStatus(config, success, at('2025-03-01T12:01:00Z')).stale, true);
    assert.equal(backupStatus(config, { lastFailure: { at: '2025-03-01T10:00:00.000Z', error: 'x' } }, at('2025-03-01T10:01:00Z')).stale, true);
    assert.equal(backupStatus({ intervalMins: 5, dailyAt: { hour: 1, minute: 0 } }, {}, at('2025-03-01T10:01:00Z')).expected_interval_s, 86_400);
  });
});

describe('pruning snapshots', () => {
  test('keeps the newest ETCD_BACKUP_KEEP (never the one just taken), and clears leftovers of interrupted runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodelet-prune-'));
    const names = ['etcd-snapshot-20250101T000000.000Z.db', 'etcd-snapshot-20250102T000000.000Z.db', 'etcd-snapshot-20250103T000000.000Z.db', 'etcd-snapshot-20250104T000000.000Z.db'];
    for (const n of names) await writeFile(join(dir, n), 'x');
    await writeFile(join(dir, '.etcd-snapshot-20250105T000000.000Z-abc.db.part'), 'partial');
    await mkdir(join(dir, '.verify-xyz'));
    await writeFile(join(dir, 'operator-copy.db'), 'mine');
    const removed = await pruneSnapshots(dir, 2, join(dir, names[3]));
    assert.deepEqual(removed, [names[1], names[0]]);
    assert.deepEqual((await readdir(dir)).sort(), [names[2], names[3], 'operator-copy.db'].sort());
    await pruneSnapshots(dir, 1, join(dir, names[3]));
    assert.deepEqual((await readdir(dir)).sort(), [names[3], 'operator-copy.db'].sort());
  });
});
