import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_GENESIS_HASH, auditRecordHash, canonicalJson, verifyAuditChain, type ChainedAuditRecord } from './audit-chain';

function chain(n: number): ChainedAuditRecord[] {
  const out: ChainedAuditRecord[] = [];
  let prevHash = AUDIT_GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const fields = { seq, id: `a${seq}`, at: new Date(1_700_000_000_000 + seq).toISOString(), actor: 'token:ops', action: 'role.assign', target: `host/h${seq}`, outcome: 'ok', source: '127.0.0.1', details: { generation: seq, nested: { b: 1, a: [2, 1] } } };
    const hash = auditRecordHash(prevHash, fields);
    out.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return out;
}

describe('the audit hash chain', () => {
  test('an untouched chain verifies, and its head is the last record', () => {
    const records = chain(5);
    assert.deepEqual(verifyAuditChain(records), { ok: true, checked: 5, head: { seq: 5, hash: records[4]!.hash } });
    assert.deepEqual(verifyAuditChain([]), { ok: true, checked: 0, head: null });
  });

  test('a changed field, a removed record, a reordering or a forged link is found, at its record', () => {
    const changed = chain(5);
    changed[2] = { ...changed[2]!, outcome: 'FORBIDDEN' };
    assert.deepEqual(verifyAuditChain(changed), { ok: false, checked: 2, seq: 3, problem: 'record 3 was changed after it was written: its hash does not match its contents' });

    const removed = chain(5).filter((r) => r.seq !== 3);
    assert.match((verifyAuditChain(removed) as { problem: string }).problem, /records 3–3 are missing/);

    const renumbered = chain(5).filter((r) => r.seq !== 3).map((r) => (r.seq > 3 ? { ...r, seq: r.seq - 1 } : r));
    const result = verifyAuditChain(renumbered);
    assert.equal(result.ok, false);

    const details = chain(3);
    details[1] = { ...details[1]!, details: { generation: 99 } };
    assert.equal(verifyAuditChain(details).ok, false);
  });

  test('a page continues from the record before it', () => {
    const records = chain(6);
    const first = verifyAuditChain(records.slice(0, 3));
    assert.ok(first.ok && first.head);
    assert.deepEqual(verifyAuditChain(records.slice(3), first.head), { ok: true, checked: 3, head: { seq: 6, hash: records[5]!.hash } });
    assert.equal(verifyAuditChain(records.slice(4), first.head).ok, false);
  });

  test('canonical JSON sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});
