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
