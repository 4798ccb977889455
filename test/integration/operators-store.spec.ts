import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyAuditChain } from '#audit-chain';
import { Logger } from '#logging';
import { openDatabase } from '../../services/rolestore/database/open-database';
import type { Database } from '../../services/rolestore/database/database';
import { AuditRepository } from '../../services/rolestore/operators/audit.repository';
import { AuditService } from '../../services/rolestore/operators/audit.service';
import { OperatorTokensRepository } from '../../services/rolestore/operators/operator-tokens.repository';
import { OperatorTokensService } from '../../services/rolestore/operators/operator-tokens.service';
import { databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { tempDir } from '../support/fixtures';

const quiet = new Logger('test', 'error');

for (const kind of DATABASE_KINDS) {
  describe(`operator tokens and the audit log on ${kind}`, () => {
    let db: Database;
    let dataDir: string;
    let now = Date.parse('2026-12-07T10:00:00Z');
    const clock = { now: (): number => now };
    let tokens: OperatorTokensService;
    let audit: AuditService;

    before(async () => {
      dataDir = await tempDir(`operators-${kind}`);
      db = await openDatabase(databaseUrlFor(kind, dataDir));
      tokens = new OperatorTokensService(new OperatorTokensRepository(db), quiet, clock);
      audit = new AuditService(new AuditRepository(db), quiet, clock);
    });

    after(async () => {
      await db?.close();
    });

    test('the first admin token is made once, written 0600 as the token alone on one line, and works', async () => {
      const first = await tokens.ensureFirstAdmin(dataDir);
      assert.ok(first !== null);
      const file = join(dataDir, 'admin.token');
      assert.equal(await readFile(file, 'utf8'), `${first}\n`);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await tokens.authenticate(`Bearer ${first}`), { kind: 'token', id: (await tokens.list())[0]!.id, name: 'admin', role: 'admin' });
      assert.equal(await tokens.ensureFirstAdmin(dataDir), null, 'a usable admin token exists: none is made');
    });

    test('a token has 256 random bits and is kept as a hash only; listed without its secret', async () => {
      const made = await tokens.create({ name: 'ci', role: 'operator' }, 'token:admin');
      assert.match(made.token, /^hp_[A-Za-z0-9_-]{43}$/);
      const stored = await db.query<Record<string, unknown>>('SELECT * FROM operator_tokens WHERE id = $1', [made.id]);
      assert.ok(!JSON.stringify(stored).includes(made.token.slice(3)), 'the secret is nowhere in the table');
      const listed = (await tokens.list()).find((t) => t.id === made.id);
      assert.deepEqual(Object.keys(listed ?? {}).sort(), ['createdAt', 'expiresAt', 'id', 'name', 'revokedAt', 'role']);
    });

    test('no token, a malformed, unknown, expired or revoked one: UNAUTHENTICATED', async () => {
      const code = async (header: string | undefined): Promise<string> => {
        try {
          await tokens.authenticate(header);
          return 'ok';
        } catch (err) {
          return (err as { code: string }).code;
        }
      };
      const temporary = await tokens.create({ name: 'short', role: 'viewer', ttlS: 60 }, 'token:admin');
      const revoked = await tokens.create({ name: 'gone', role: 'admin' }, 'token:admin');
      assert.equal(await code(`Bearer ${temporary.token}`), 'ok');
      assert.equal(await code(undefined), 'UNAUTHENTICATED');
      assert.equal(await code('Basic dXNlcjpwYXNz'), 'UNAUTHENTICATED');
      assert.equal(await code(`Bearer hp_${'A'.repeat(43)}`), 'UNAUTHENTICATED');
      await tokens.revoke(revoked.id);
      assert.equal(await code(`Bearer ${revoked.token}`), 'UNAUTHENTICATED');
      now += 61_000;
      assert.equal(await code(`Bearer ${temporary.token}`), 'UNAUTHENTICATED');
      assert.deepEqual(await tokens.review(temporary.token), { authenticated: false });
    });

    test('the audit log is a chain that verifies, also when two writers append at once', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => audit.record({ actor: 'token:ci', action: 'role.assign', target: `host/h${i}/role/demo`, outcome: i % 3 === 0 ? 'NOT_FOUND' : 'ok', source: 'http:127.0.0.1', details: { i } })));
      const records = await audit.list({ limit: 1000 });
      assert.equal(records.length, 20);
      assert.deepEqual(verifyAuditChain(records), { ok: true, checked: 20, head: { seq: 20, hash: records[19]!.hash } });
    });

    test('a record changed, or removed, in the database itself is found by the chain', async () => {
      // The writers above raced: which outcome record 4 holds is read, not assumed.
      const original = (await audit.list({ limit: 1000 })).find((r) => r.seq === 4)!.outcome;
      await db.execute("UPDATE audit_log SET outcome = 'FORBIDDEN' WHERE seq = 4");
      const changed = verifyAuditChain(await audit.list({ limit: 1000 }));
      assert.equal(changed.ok, false);
      assert.equal(!changed.ok && changed.seq, 4);
      await db.execute('UPDATE audit_log SET outcome = $1 WHERE seq = 4', [original]);
      assert.equal(verifyAuditChain(await audit.list({ limit: 1000 })).ok, true, 'put back as it was, it verifies again');
      await db.execute('DELETE FROM audit_log WHERE seq = 7');
      const removed = verifyAuditChain(await audit.list({ limit: 1000 }));
      assert.equal(!removed.ok && removed.problem, 'records 7–7 are missing');
    });
  });
}
