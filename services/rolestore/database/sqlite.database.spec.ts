import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UnavailableError } from '#amqp';
import { DatabaseUnavailableError } from './database-unavailable.error';
import { SqliteDatabase } from './sqlite.database';

describe('SqliteDatabase when the file is not available', () => {
  test('a lock held past the time limit is DatabaseUnavailableError; a wrong statement is not', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'hostplane-sqlite-')), 'rolestore.db');
    const db = new SqliteDatabase(file, { timeoutMs: 200 });
    await db.execute('CREATE TABLE t (x INTEGER)');
    const other = new DatabaseSync(file);
    other.exec('BEGIN EXCLUSIVE');
    try {
      const started = Date.now();
      const err = await db.execute('INSERT INTO t (x) VALUES (1)').then(
        () => assert.fail('the insert went through a lock'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof DatabaseUnavailableError, String(err));
      assert.ok(err instanceof UnavailableError, 'the consumer and the REST layer know it as unavailable');
      assert.ok(Date.now() - started < 3000, 'within the time limit, not the default');
      await assert.rejects(db.transaction(async (tx) => tx.execute('INSERT INTO t (x) VALUES (2)')), DatabaseUnavailableError);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await db.execute('INSERT INTO t (x) VALUES (3)');
    const wrong = await db.query('SELECT nothing FROM t').then(
      () => assert.fail('a wrong statement answered'),
      (e: unknown) => e,
    );
    assert.ok(!(wrong instanceof DatabaseUnavailableError), 'a wrong statement is the caller\'s problem, not an outage');
    await db.close();
  });
});
