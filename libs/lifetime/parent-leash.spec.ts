import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readStopWithParent } from './index';

const lib = join(__dirname, 'index.js');

/** A service stand-in: watches its parent's pipe, says how it stopped. */
const SERVICE = (handlesSigterm: boolean): string => `
  const { stopWithParent } = require(${JSON.stringify(lib)});
  ${handlesSigterm ? "process.on('SIGTERM', () => { process.stdout.write('stopped in order\\n'); process.exit(0); });" : ''}
  stopWithParent((m) => process.stdout.write(m + '\\n'));
  process.stdout.write('running\\n');
  setInterval(() => undefined, 1000);
`;

function outputOf(child: { stdout: NodeJS.ReadableStream | null }): () => string {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('stopWithParent: a service stops when the process that started it is gone', () => {
  it('PF9_STOP_WITH_PARENT: 1 on; unset, empty or 0 off; anything else refused', () => {
    assert.deepEqual([undefined, '', '0', ' 1 '].map(readStopWithParent), [
      { ok: true, value: false },
      { ok: true, value: false },
      { ok: true, value: false },
      { ok: true, value: true },
    ]);
    assert.deepEqual(readStopWithParent('yes'), { ok: false, problem: "'yes' is not 1 or 0" });
  });

  it('the pipe ends: it stops through its own SIGTERM handler', async () => {
    const child = spawn(process.execPath, ['-e', SERVICE(true)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const output = outputOf(child);
    await until(() => output().includes('running'), 'the service to run');
    child.stdin.end();
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.match(output(), /the process that started this one is gone .*: stopping\nstopped in order\n$/);
  });

  it('its parent killed with SIGKILL, in a session of its own: it stops all the same', async () => {
    // The parent starts the service detached (setsid, as the host agent starts pf9-comms) and prints its pid.
    const parent = spawn(
      process.execPath,
      ['-e', `const c = require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(SERVICE(false))}], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] }); process.stdout.write(c.pid + '\\n'); setInterval(() => undefined, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const output = outputOf(parent);
    await until(() => /^\d+\n/.test(output()), 'the service pid');
    const pid = Number(output().trim());
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(alive());
    parent.kill('SIGKILL');
    await until(() => !alive(), 'the service to be gone');
  });

  it('refuses to watch what is not a pipe: a service started with it by mistake says so', async () => {
    const child = spawn(process.execPath, ['-e', SERVICE(true)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.notEqual(code, 0);
    assert.match(stderr, /PF9_STOP_WITH_PARENT=1 needs standard input to be a pipe from the process that started this one/);
  });
});
