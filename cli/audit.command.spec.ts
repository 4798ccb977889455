import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AUDIT_GENESIS_HASH, auditRecordHash } from '#audit-chain';
import type { AuditRecordView } from '#contracts';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';

/** A chain of `n` records as a plane keeps it. */
function chain(n: number): AuditRecordView[] {
  const records: AuditRecordView[] = [];
  let prevHash = AUDIT_GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const fields = { seq, id: `id-${seq}`, at: new Date(Date.UTC(2026, 11, 7, 10, 0, seq)).toISOString(), actor: 'token:ci', action: 'role.assign', target: `host/h${seq}/role/demo`, outcome: 'ok', source: 'http:127.0.0.1', details: { generation: seq } };
    const hash = auditRecordHash(prevHash, fields);
    records.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return records;
}

describe('audit commands', () => {
  let store: FakeRoleStore;
  let env: Record<string, string>;
  let records: AuditRecordView[];
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url, HOSTPLANE_TOKEN: 'op', XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'hostplane-state-')) };
    records = chain(5);
    store.on('GET', '/v1/audit?afterSeq=0&limit=1000', () => ({ status: 200, json: records }));
  });
  afterEach(() => store.close());

  it('audit prints the records oldest first; --since and --limit are sent', async () => {
    store.on('GET', '/v1/audit?since=2026-12-07T10%3A00%3A02.000Z&limit=2', { status: 200, json: records.slice(1, 3) });
    const run = await runCliCollect(['audit', '--since', '2026-12-07T10:00:02Z', '--limit', '2'], { env });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /^AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME/);
    assert.deepEqual(lines.slice(1).map((l) => /host\/(h\d)/.exec(l)?.[1]), ['h2', 'h3']);
    for (const bad of [['--since', 'yesterday'], ['--limit', '0']]) assert.equal((await runCliCollect(['audit', ...bad], { env })).code, 2, bad.join(' '));
  });

  it('audit verify: an intact chain verifies; a changed record, a removed one, or a tail cut since the last verify is found (exit 1)', async () => {
    const ok = await runCliCollect(['audit', 'verify'], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /the audit log verifies: 5 records/);

    records = chain(5).map((r) => (r.seq === 3 ? { ...r, outcome: 'FORBIDDEN' } : r));
    const changed = await runCliCollect(['audit', 'verify'], { env });
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /tampered with at record 3/);

    records = chain(5).filter((r) => r.seq !== 2);
    const removed = await runCliCollect(['audit', 'verify'], { env });
    assert.equal(removed.code, 1);
    assert.match(removed.stderr, /record 2|missing/);

    records = chain(4);
    const cut = await runCliCollect(['audit', 'verify'], { env });
    assert.equal(cut.code, 1, 'record 5 was verified here before');
    assert.match(cut.stderr, /cut short: record 5/);
  });
});
