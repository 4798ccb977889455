import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from './logger';

describe('Logger', () => {
  test('writes lines at or above its level, and says which levels it writes', () => {
    const lines: string[] = [];
    const logger = new Logger('svc', 'info', { write: (line) => lines.push(line) });
    logger.debug('hidden');
    logger.info('shown', { n: 1 });
    assert.deepEqual([logger.enabled('debug'), logger.enabled('info'), logger.enabled('error')], [false, true, true]);
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]) as Record<string, unknown>;
    assert.deepEqual([record.level, record.service, record.msg, record.n], ['info', 'svc', 'shown', 1]);
    assert.equal(new Logger('svc', 'debug').enabled('debug'), true);
  });
});
