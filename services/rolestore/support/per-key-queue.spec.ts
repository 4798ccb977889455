import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PerKeyQueue } from './per-key-queue';

describe('PerKeyQueue', () => {
  test('one key in order, a failure not stopping the next; other keys side by side', async () => {
    const queue = new PerKeyQueue();
    const log: string[] = [];
    let releaseA!: () => void;
    const a1 = queue.run('a', () => new Promise<void>((resolve) => (releaseA = resolve)).then(() => void log.push('a1')));
    const a2 = queue.run('a', () => Promise.reject(new Error('a2 failed')));
    const a3 = queue.run('a', async () => {
      log.push('a3');
      return 3;
    });
    const b1 = queue.run('b', async () => void log.push('b1'));
    await b1;
    assert.deepEqual(log, ['b1'], 'b does not wait for a');
    releaseA();
    await a1;
    await assert.rejects(a2, /a2 failed/);
    assert.equal(await a3, 3);
    assert.deepEqual(log, ['b1', 'a1', 'a3']);
    await queue.idle();
  });
});

describe('PerKeyQueue when a piece fails for a reason that stops the rest', () => {
  test('the pieces queued behind it fail with the same error without running; later ones run again', async () => {
    const queue = new PerKeyQueue();
    const ran: string[] = [];
    const away = new Error('database away');
    const stops = (err: unknown): boolean => err === away;
    let release!: () => void;
    const first = queue.run('a', () => new Promise<void>((_, reject) => (release = () => reject(away))), stops);
    const second = queue.run('a', async () => void ran.push('second'), stops);
    const third = queue.run('a', async () => void ran.push('third'), stops);
    const other = queue.run('b', async () => void ran.push('other key'), stops);
    await other;
    release();
    await assert.rejects(first, /database away/);
    await assert.rejects(second, /database away/, 'would have overtaken the first');
    await assert.rejects(third, /database away/);
    assert.deepEqual(ran, ['other key']);
    await queue.idle();
    await queue.run('a', async () => void ran.push('after'), stops);
    assert.deepEqual(ran, ['other key', 'after'], 'queued once the stopped ones are gone: runs');
  });

  test('an ordinary failure still lets the next piece run', async () => {
    const queue = new PerKeyQueue();
    const stops = (): boolean => false;
    const failed = queue.run('a', () => Promise.reject(new Error('bad report')), stops);
    const next = queue.run('a', async () => 'ran', stops);
    await assert.rejects(failed, /bad report/);
    assert.equal(await next, 'ran');
  });
});
