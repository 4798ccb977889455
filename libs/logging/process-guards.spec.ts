import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('an unhandled rejection is logged with its stack, and the process goes on', () => {
  const logging = JSON.stringify(join(__dirname, 'index.js'));
  const script = `
    const { guardUnhandledRejections, Logger } = require(${logging});
    guardUnhandledRejections(new Logger('probe'));
    Promise.reject(new TypeError('value.constructor is not a constructor'));
    setTimeout(() => { process.stdout.write('still running\\n'); process.exit(0); }, 100);
  `;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(result.status, 0, result.stderr);
  const output = result.stdout + result.stderr;
  assert.match(output, /"msg":"unhandled promise rejection[^"]*"/);
  assert.match(output, /TypeError: value\.constructor is not a constructor/);
  assert.match(result.stdout, /still running/);
});
