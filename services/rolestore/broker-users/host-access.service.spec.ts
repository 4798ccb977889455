import 'reflect-metadata';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostHeartbeatEvent } from '#contracts';
import { Logger } from '#logging';
import { loadRolestoreConfig } from '../config/rolestore.config';
import { migrate, MIGRATIONS } from '../database/migrations';
import { SqliteDatabase } from '../database/sqlite.database';
import { HostsRepository } from '../hosts/hosts.repository';
import { waitFor } from '../../../test/support/wait';
import { HostAccessRepository } from './host-access.repository';
import { BROKER_RETRY_MS, HostAccessService, type GraceTimers, type HostBrokerUsers } from './host-access.service';

class FakeUsers implements HostBrokerUsers {
  readonly calls: string[] = [];
  /** Calls ('grant h2') that fail, as when the management API does not answer. */
  readonly failing = new Set<string>();
  /** Runs during a grant, as another role store might between reading the record and the broker's answer. */
  duringGrant: (hostId: string) => Promise<void> = async () => undefined;

  async ensureHostUser(hostId: string) {
    this.calls.push(`ensure ${hostId}`);
    return { username: `pf9-host-${hostId}`, password: 'secret' };
  }
  async grant(hostId: string) {
    this.call(`grant ${hostId}`);
    await this.duringGrant(hostId);
  }
  async revoke(hostId: string) {
    this.call(`revoke ${hostId}`);
  }
  async deleteHostUser(hostId: string) {
    this.call(`delete ${hostId}`);
  }
  /** How often the queue bounds were applied (kept apart from the per-host calls). */
  bounded = 0;
  async boundQueues() {
    this.bounded += 1;
  }

  private call(call: string): void {
    this.calls.push(call);
    if (this.failing.has(call)) throw new Error('management API: no answer');
  }
}

/** A clock that moves only when told, and the timers due by then. */
class FakeTimers implements GraceTimers {
  private readonly timers: Array<{ dueMs: number; ms: number; run: () => void; done: boolean }> = [];

  constructor(private nowMs: number) {}

  now(): number {
    return this.nowMs;
  }

  after(ms: number, run: () => void): () => void {
    const timer = { dueMs: this.nowMs + ms, ms, run, done: false };
    this.timers.push(timer);
    return () => void (timer.done = true);
  }

  /** The delays of the timers neither run nor cancelled. */
  get pending(): number[] {
    return this.timers.filter((t) => !t.done).map((t) => t.ms);
  }

  advance(ms: number): void {
    this.nowMs += ms;
    for (const timer of this.timers.filter((t) => !t.done && t.dueMs <= this.nowMs)) {
      timer.done = true;
      timer.run();
    }
  }
}

const GRACE_MS = 60_000;
const config = loadRolestoreConfig({ PF9_HOST_DEAUTHORIZED_GRACE_S: String(GRACE_MS / 1000) });
const START_MS = Date.parse('2030-01-01T00:00:00Z');
const quiet = new Logger('test', 'error', { write: () => undefined });

describe('host broker access', () => {
  let dir: string;
  let db: SqliteDatabase;
  let records: HostAccessRepository;
  let users: FakeUsers;
  let timers: FakeTimers;
  let access: HostAccessService;

  /** The database of a role store, on a file so that a "restart" opens it again. */
  async function openDb(): Promise<SqliteDatabase> {
    const opened = new SqliteDatabase(join(dir, 'rolestore.db'));
    await migrate(opened);
    return opened;
  }

  /** The role store stopped and started again `laterMs` after START_MS: new service, new timers, same database. */
  async function restart(laterMs: number, logger = quiet): Promise<void> {
    await access.stop();
    await db.close();
    db = await openDb();
    records = new HostAccessRepository(db);
    users = new FakeUsers();
    timers = new FakeTimers(START_MS + laterMs);
    access = new HostAccessService(users, records, config, logger, timers);
  }

  async function hostWithRoles(hostId: string, roles: string[]): Promise<void> {
    const hosts = new HostsRepository(db);
    await hosts.upsertHeartbeats([{ hostId, hostname: hostId, info: {} as HostHeartbeatEvent, receivedMs: START_MS }]);
    await hosts.transaction(async (tx) => {
      for (const role of roles) await hosts.assignRole(tx, hostId, role, '1.0.0', {}, 1, START_MS);
    });
  }

  const accessOf = async (hostId: string) => (await records.find(hostId))?.access;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'host-access-'));
    db = await openDb();
    records = new HostAccessRepository(db);
    users = new FakeUsers();
    timers = new FakeTimers(START_MS);
    access = new HostAccessService(users, records, config, quiet, timers);
  });

  afterEach(async () => {
    await access.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a registered host gets its user and its own queue and keys at once, recorded granted', async () => {
    assert.deepEqual(await access.registered('h1'), { username: 'pf9-host-h1', password: 'secret' });
    assert.deepEqual(users.calls, ['ensure h1', 'grant h1']);
    assert.equal(await accessOf('h1'), 'granted');
  });

  test('a deauthorized host is recorded being revoked until the grace period ends, and cut off once its roles are gone, not before', async () => {
    await access.deauthorized('h1', 2);
    assert.deepEqual(users.calls, []);
    assert.deepEqual(await records.find('h1'), { hostId: 'h1', rolesLeft: 0, access: 'revoking', revokeAfterMs: START_MS + GRACE_MS });
    assert.deepEqual(timers.pending, [GRACE_MS]);
    access.rolesGone('h1');
    await waitFor('h1 revoked', () => users.calls.includes('revoke h1'));
    assert.equal(await accessOf('h1'), 'revoked');
    assert.deepEqual(timers.pending, [], 'its timer cancelled');

    await access.deauthorized('h2', 0);
    assert.equal(await accessOf('h2'), 'revoked');
    await waitFor('h2 revoked', () => users.calls.includes('revoke h2'));
  });

  test('a host whose last role goes while it is authorized keeps its access', async () => {
    await access.authorized('h1');
    access.rolesGone('h1');
    // Changes of one host run in turn: once this one is done, rolesGone has run.
    await access.authorized('h1');
    assert.deepEqual(users.calls, ['grant h1', 'grant h1']);
    assert.equal(await accessOf('h1'), 'granted');
  });

  test('a deauthorized host that never reports is cut off after the grace period; authorizing again cancels it', async () => {
    await access.deauthorized('h1', 1);
    await access.deauthorized('h2', 1);
    await access.authorized('h2');
    timers.advance(GRACE_MS - 1);
    assert.deepEqual(users.calls, ['grant h2']);
    timers.advance(1);
    await waitFor('h1 revoked', () => users.calls.includes('revoke h1'));
    await access.stop();
    assert.deepEqual(users.calls, ['grant h2', 'revoke h1']);
    assert.equal(await accessOf('h1'), 'revoked');
    assert.equal(await accessOf('h2'), 'granted');
  });

  test('a host authorized meanwhile by another role store is not cut off when the grace period ends', async () => {
    await access.deauthorized('h1', 1);
    await records.record('h1', { access: 'granted' }, START_MS + 1);
    timers.advance(GRACE_MS);
    await access.stop();
    assert.deepEqual(users.calls, []);
    assert.equal(await accessOf('h1'), 'granted');
  });

  test('restarted during the grace period, the role store still cuts the host off once the rest of it has passed', async () => {
    await hostWithRoles('h1', ['web']);
    await access.authorized('h1');
    await access.deauthorized('h1', 1);
    await restart(40_000);

    await access.reconcile();
    assert.deepEqual(users.calls, [], 'not cut off before its time');
    assert.deepEqual(timers.pending, [GRACE_MS - 40_000], 'a timer for the rest of the grace period');
    timers.advance(GRACE_MS - 40_000);
    await waitFor('h1 revoked', () => users.calls.includes('revoke h1'));
    assert.equal(await accessOf('h1'), 'revoked');
  });

  test('at start, a host whose grace period is over, or whose roles are gone, is cut off at once', async () => {
    await hostWithRoles('late', ['web']);
    await hostWithRoles('waiting', ['web']);
    await records.record('late', { access: 'revoking', revokeAfterMs: START_MS + 1_000 }, START_MS);
    await records.record('no-roles', { access: 'revoking', revokeAfterMs: START_MS + GRACE_MS }, START_MS);
    await records.record('waiting', { access: 'revoking', revokeAfterMs: START_MS + GRACE_MS }, START_MS);
    await restart(1_000);

    await access.reconcile();
    assert.deepEqual(users.calls, ['revoke late', 'revoke no-roles']);
    assert.deepEqual(timers.pending, [GRACE_MS - 1_000], 'only the host within its grace period waits');
    assert.deepEqual([await accessOf('late'), await accessOf('no-roles'), await accessOf('waiting')], ['revoked', 'revoked', 'revoking']);
  });

  test('at start, granted hosts are granted and revoked hosts revoked again', async () => {
    await access.registered('granted-1');
    await access.authorized('granted-2');
    await access.deauthorized('revoked-1', 0);
    await restart(1_000);

    await access.reconcile();
    assert.deepEqual(users.calls, ['grant granted-1', 'grant granted-2', 'revoke revoked-1']);
  });

  test('a decommissioned host loses its broker user; one the broker did not delete is tried again, and again at the next start', async () => {
    await access.registered('gone');
    await access.registered('flaky');
    users.calls.length = 0;
    users.failing.add('delete flaky');
    for (const hostId of ['gone', 'flaky']) await db.transaction((tx) => records.decommission(tx, hostId, START_MS));
    assert.equal(await access.decommissioned('gone'), 'deleted');
    assert.equal(await access.decommissioned('flaky'), 'pending');
    assert.deepEqual(users.calls, ['delete gone', 'delete flaky']);
    assert.equal(await access.hasOwnUser('gone'), false, 'no access recorded any more');
    assert.deepEqual(timers.pending, [BROKER_RETRY_MS]);

    await restart(1_000);
    await access.reconcile();
    assert.deepEqual(users.calls, ['delete flaky'], 'only the deletion the broker did not take');
    assert.equal(users.bounded, 1, 'and the queue bounds are put in place at every start');
    await restart(2_000);
    await access.reconcile();
    assert.deepEqual(users.calls, [], 'done for good');
  });

  test('a host decommissioned and registered again keeps the user it got', async () => {
    await access.registered('back');
    await db.transaction((tx) => records.decommission(tx, 'back', START_MS));
    users.failing.add('delete back');
    assert.equal(await access.decommissioned('back'), 'pending');
    users.failing.clear();
    await access.registered('back');
    users.calls.length = 0;
    timers.advance(BROKER_RETRY_MS);
    await waitFor('the retry to run', () => users.calls.length > 0);
    assert.deepEqual(users.calls, ['grant back'], 'granted as recorded, not deleted');
  });

  test('at start, a host whose broker call fails is logged and the others are still brought in line', async () => {
    const lines: string[] = [];
    for (const hostId of ['h1', 'h2', 'h3']) await access.authorized(hostId);
    await access.deauthorized('h4', 0);
    await restart(1_000, new Logger('test', 'error', { write: (line) => void lines.push(line) }));
    users.failing.add('grant h2');

    await access.reconcile();
    assert.deepEqual(users.calls, ['grant h1', 'grant h2', 'grant h3', 'revoke h4']);
    const errors = lines.map((line) => JSON.parse(line) as { level: string; msg: string; hostId?: string });
    assert.deepEqual(
      errors.map((e) => [e.level, e.msg, e.hostId]),
      [['error', "could not grant the host's broker user: trying again in 30 s", 'h2']],
    );
    assert.equal(await accessOf('h2'), 'granted', 'still recorded granted');
    assert.deepEqual(timers.pending, [BROKER_RETRY_MS], 'and tried again');
  });

  test('a broker call that fails is tried again, with what is recorded by then', async () => {
    users.failing.add('revoke h1');
    await access.deauthorized('h1', 0);
    await waitFor('the failed revoke', () => users.calls.includes('revoke h1'));
    await waitFor('a retry scheduled', () => timers.pending.includes(BROKER_RETRY_MS));
    timers.advance(BROKER_RETRY_MS);
    await waitFor('the second attempt', () => users.calls.filter((c) => c === 'revoke h1').length === 2);
    await waitFor('another retry scheduled', () => timers.pending.includes(BROKER_RETRY_MS));
    users.failing.delete('revoke h1');
    timers.advance(BROKER_RETRY_MS);
    await waitFor('the third attempt', () => users.calls.filter((c) => c === 'revoke h1').length === 3);
    await access.stop();
    assert.deepEqual(timers.pending, [], 'nothing left to retry');

    // A host authorized again before the retry: the grant settles it, and the retry revokes nothing.
    await restart(0);
    users.failing.add('revoke h2');
    await access.deauthorized('h2', 0);
    await waitFor('the failed revoke', () => users.calls.includes('revoke h2'));
    users.failing.clear();
    await access.authorized('h2');
    timers.advance(BROKER_RETRY_MS);
    await access.stop();
    assert.deepEqual(users.calls.filter((c) => c.endsWith('h2')), ['revoke h2', 'grant h2']);
  });

  test("the upgrade records an existing plane's authorized hosts granted, and at start they are granted", async () => {
    const old = new SqliteDatabase(join(dir, 'old.db'));
    await migrate(old, MIGRATIONS.filter((m) => m.version < 4));
    for (const [id, state] of [['a1', 'authorized'], ['u1', 'unauthorized']]) {
      await old.execute(`INSERT INTO hosts (id, hostname, state, generation, created_ms, updated_ms) VALUES ($1, $1, $2, 0, $3, $3)`, [id, state, START_MS]);
    }
    assert.deepEqual(await migrate(old, MIGRATIONS.filter((m) => m.version <= 4)), [4]);
    // A role store of today runs every later migration as well.
    await migrate(old);
    const upgraded = new HostAccessService(users, new HostAccessRepository(old), config, quiet, timers);
    assert.equal((await new HostAccessRepository(old).find('a1'))?.access, 'granted');
    assert.equal(await new HostAccessRepository(old).find('u1'), null, 'new or deauthorized: unknown, left alone');
    await upgraded.reconcile();
    assert.deepEqual(users.calls, ['grant a1']);
    await upgraded.stop();
    await old.close();
  });

  test('a revocation another role store records while this one grants wins', async () => {
    await access.authorized('h1');
    await restart(1_000);
    const other = new HostAccessRepository(db);
    users.duringGrant = async (hostId) => other.record(hostId, { access: 'revoked' }, START_MS + 1_000);
    await access.reconcile();
    assert.deepEqual(users.calls, ['grant h1', 'revoke h1']);
    assert.equal(await accessOf('h1'), 'revoked');
  });

  test('without broker users nothing is asked of the broker, or recorded', async () => {
    const off = new HostAccessService(null, records, config, quiet, timers);
    assert.equal(await off.registered('h1'), null);
    assert.equal(off.enabled, false);
    await off.authorized('h1');
    await off.deauthorized('h1', 1);
    off.rolesGone('h1');
    await off.reconcile();
    assert.deepEqual(await records.hostIds(), []);
    assert.deepEqual(timers.pending, []);
  });
});
