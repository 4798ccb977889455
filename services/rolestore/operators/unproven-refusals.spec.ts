import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import type { Clock } from '../core/clock';
import type { AuditEvent, AuditService } from './audit.service';
import { UNPROVEN_REFUSALS_PER_SOURCE, UNPROVEN_REFUSALS_TOTAL, UNPROVEN_REFUSALS_WINDOW_MS, UnprovenRefusals } from './unproven-refusals';

function setup(): { limiter: UnprovenRefusals; written: AuditEvent[]; clock: { now: () => number; ms: number } } {
  const written: AuditEvent[] = [];
  const clock = { ms: Date.parse('2026-12-07T10:00:00Z'), now: () => clock.ms };
  const audit = { record: async (event: AuditEvent) => void written.push(event) } as unknown as AuditService;
  const limiter = new UnprovenRefusals(audit, clock as unknown as Clock, new Logger('test', 'error', { write: () => undefined }));
  return { limiter, written, clock };
}

const refusal = (source: string, action = 'host.authorize'): AuditEvent => ({ actor: 'token:anonymous', action, target: 'host/h', outcome: 'UNAUTHENTICATED', source });

describe('refusals of requests that proved no identity', () => {
  test('each is recorded up to the bound per source and minute; the rest are counted into one record per source', async () => {
    const { limiter, written } = setup();
    const admitted = Array.from({ length: UNPROVEN_REFUSALS_PER_SOURCE + 30 }, (_, i) => limiter.admit(refusal('http:10.0.0.1', i % 2 === 0 ? 'host.authorize' : 'role.assign')));
    assert.equal(admitted.filter(Boolean).length, UNPROVEN_REFUSALS_PER_SOURCE);
    assert.equal(limiter.admit(refusal('http:10.0.0.2')), true, 'another source has its own bound');
    await limiter.onModuleDestroy();
    assert.equal(written.length, 1);
    const [summary] = written;
    assert.deepEqual({ ...summary, details: undefined }, { actor: 'token:anonymous', action: 'audit.suppressed', target: 'refusals', outcome: 'UNAUTHENTICATED', source: 'http:10.0.0.1', details: undefined });
    assert.equal(summary!.details!.count, 30);
    assert.deepEqual(summary!.details!.actions, { 'host.authorize': 15, 'role.assign': 15 });
  });

  test('a new minute starts the counts again, after recording the last one\'s', async () => {
    const { limiter, written, clock } = setup();
    for (let i = 0; i < UNPROVEN_REFUSALS_PER_SOURCE + 1; i++) limiter.admit(refusal('http:10.0.0.1'));
    clock.ms += UNPROVEN_REFUSALS_WINDOW_MS;
    assert.equal(limiter.admit(refusal('http:10.0.0.1')), true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(written.length, 1);
    assert.equal(written[0]!.details!.count, 1);
    await limiter.onModuleDestroy();
  });

  test('all sources together have a bound too (many addresses buy no more records)', async () => {
    const { limiter, written } = setup();
    let admitted = 0;
    for (let i = 0; i < UNPROVEN_REFUSALS_TOTAL + 500; i++) if (limiter.admit(refusal(`http:10.1.${Math.floor(i / 250)}.${i % 250}`))) admitted += 1;
    assert.equal(admitted, UNPROVEN_REFUSALS_TOTAL);
    await limiter.onModuleDestroy();
    assert.equal(written.reduce((sum, e) => sum + Number(e.details!.count), 0), 500, 'every one counted');
  });
});
