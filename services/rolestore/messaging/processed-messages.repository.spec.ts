import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../database/migrations';
import { SqliteDatabase } from '../database/sqlite.database';
import { ProcessedMessagesRepository } from './processed-messages.repository';

test('processed message ids answer their first reply, and are forgotten once older than the window', async () => {
  const db = new SqliteDatabase(':memory:');
  await migrate(db);
  let now = 1_000;
  const repository = new ProcessedMessagesRepository(db, { now: () => now });
  await repository.put('old', 'role.assign', { ok: true, result: { n: 1 } });
  now = 5_000;
  await repository.put('new', 'role.assign', { ok: false, error: { code: 'NOT_FOUND', message: 'x', details: [] } });
  await repository.put('new', 'role.assign', { ok: true, result: { n: 2 } });
  assert.deepEqual(await repository.get('new'), { ok: false, error: { code: 'NOT_FOUND', message: 'x', details: [] } }, 'the first reply stays');
  assert.equal(await repository.prune(2_000), 1);
  assert.equal(await repository.get('old'), null);
  assert.notEqual(await repository.get('new'), null);
  await db.close();
});
