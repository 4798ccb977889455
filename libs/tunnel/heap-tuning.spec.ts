import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// A busy tunnel in miniature: 1 GiB of 64 KiB buffers outside the heap, each dropped once
// passed on, a few per turn of the event loop; prints how many collections of each kind ran.
const TUNNEL_LIKE = `
const { PerformanceObserver, constants } = require('node:perf_hooks');
if (process.argv[1] === 'tuned') require(process.env.HEAP_TUNING).tuneHeapForStreaming();
let major = 0, minor = 0;
const count = (entries) => { for (const e of entries) e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR ? major++ : minor++; };
const gcs = new PerformanceObserver((list) => count(list.getEntries()));
gcs.observe({ entryTypes: ['gc'] });
let left = 16384;
const step = () => {
  for (let i = 0; i < 16 && left > 0; i++, left--) Buffer.allocUnsafeSlow(65536)[0] = left;
  if (left > 0) setImmediate(step);
  // One more turn of the event loop for the last collection's entry, then what is still queued.
  else setImmediate(() => { count(gcs.takeRecords()); gcs.disconnect(); console.log(JSON.stringify({ major, minor })); });
};
step();
`;

async function collections(mode: 'default' | 'tuned'): Promise<{ major: number; minor: number }> {
  const { stdout } = await run(process.execPath, ['-e', TUNNEL_LIKE, mode], { env: { ...process.env, HEAP_TUNING: join(__dirname, 'heap-tuning.js') } });
  return JSON.parse(stdout) as { major: number; minor: number };
}

describe('heap tuning for streaming', () => {
  test('buffers outside the heap no longer set off full collections', async () => {
    const untuned = await collections('default');
    const tuned = await collections('tuned');
    assert.ok(untuned.major >= 8, `without it, V8 runs a full collection about every 64 MiB (${untuned.major} for 1 GiB)`);
    assert.ok(tuned.major * 4 <= untuned.major, `tuned: ${tuned.major} full collections, against ${untuned.major}`);
    assert.ok(tuned.minor > 0, 'the young generation is still collected');
  });
});
