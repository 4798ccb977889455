import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HOOK_TAIL_MAX_BYTES, HookRunner, TailBuffer, type HookRunOptions } from './hook-runner';

describe('HookRunner', () => {
  let dir: string;
  let n = 0;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostplane-hooks-'));
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function script(body: string, mode = 0o755): Promise<string> {
    const file = path.join(dir, `hook-${++n}.sh`);
    await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode });
    await fs.chmod(file, mode);
    return file;
  }

  function options(executable: string, extra: Partial<HookRunOptions> = {}): HookRunOptions {
    return { hook: 'configure', executable, cwd: dir, env: {}, timeoutMs: 10_000, logFile: path.join(dir, 'logs', `run-${n}.log`), ...extra };
  }

  /** Gone, or a zombie that only waits for an init process to reap it. */
  function processGone(pid: number): boolean {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return true;
    }
  }

  function readFileIfThere(file: string): string | null {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  }

  async function waitUntil(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('reports success for exit 0, and writes a header and the output to the log file', async () => {
    const runner = new HookRunner({ now: () => new Date('2030-01-02T03:04:05.000Z') });
    const opts = options(await script('echo to-stdout; echo to-stderr >&2; exit 0'));
    const result = await runner.run(opts);
    assert.equal(result.succeeded, true);
    assert.equal(result.exitCode, 0);
    assert.equal(result.signal, null);
    assert.equal(result.timedOut, false);
    assert.equal(result.spawnError, null);
    assert.equal(result.truncated, false);
    assert.ok(result.tail.includes('to-stdout\n') && result.tail.includes('to-stderr\n'), result.tail);
    assert.equal(result.outputBytes, 'to-stdout\nto-stderr\n'.length);
    const log = await fs.readFile(opts.logFile, 'utf8');
    assert.ok(log.startsWith(`=== 2030-01-02T03:04:05.000Z hook configure: ${opts.executable} ===\n`), log);
    assert.ok(log.includes('to-stdout\n') && log.includes('to-stderr\n'));
    assert.match(log, /=== hook configure exited with code 0 after \d+ ms ===\n$/);

    // Appended, not replaced.
    await runner.run(opts);
    assert.equal((await fs.readFile(opts.logFile, 'utf8')).split('hook configure: ').length - 1, 2);
  });

  it('reports a non-zero exit as a failure', async () => {
    const result = await new HookRunner().run(options(await script('echo broken; exit 3')));
    assert.equal(result.succeeded, false);
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.equal(result.tail, 'broken\n');
  });

  it('feeds stdin to the hook and closes it', async () => {
    const config = JSON.stringify({ port: 8080, name: 'demo ✓' });
    const result = await new HookRunner().run(options(await script('cat'), { stdin: config }));
    assert.equal(result.succeeded, true);
    assert.equal(result.tail, config);
  });

  it('does not fail when the hook ignores a large stdin', async () => {
    const result = await new HookRunner().run(options(await script('exit 0'), { stdin: 'x'.repeat(4 * 1024 * 1024) }));
    assert.equal(result.succeeded, true);
  });

  it('passes PATH and the given env, and nothing else of the agent’s environment', async () => {
    process.env.HOSTPLANE_TEST_AGENT_SECRET = 'must-not-leak';
    try {
      const result = await new HookRunner({ path: '/usr/bin:/bin' }).run(
        options(await script('echo "role=$PF9_ROLE"; echo "secret=${HOSTPLANE_TEST_AGENT_SECRET-unset}"; echo "path=$PATH"'), {
          env: { PF9_ROLE: 'demo' },
        }),
      );
      assert.equal(result.tail, 'role=demo\nsecret=unset\npath=/usr/bin:/bin\n');
    } finally {
      delete process.env.HOSTPLANE_TEST_AGENT_SECRET;
    }
  });

  it('lists exactly the variables it was given', async () => {
    const result = await new HookRunner({ path: '/usr/bin:/bin' }).run(options(await script('env | sort'), { env: { B: '2', A: '1' } }));
    // sh may add PWD (and dash SHLVL-like values); everything else must come from us.
    const names = result.tail.trim().split('\n').map((line) => line.split('=')[0]).filter((name) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(name));
    assert.deepEqual(names, ['A', 'B', 'PATH']);
  });

  it('runs the hook in the given working directory', async () => {
    const cwd = await fs.mkdtemp(path.join(dir, 'cwd-'));
    const result = await new HookRunner().run(options(await script('pwd -P'), { cwd }));
    assert.equal(result.tail, `${await fs.realpath(cwd)}\n`);
  });

  it('kills a hook that runs past its time limit, children included', async () => {
    const pidFile = path.join(dir, 'timeout-child.pid');
    const result = await new HookRunner({ killGraceMs: 500 }).run(
      options(await script(`echo started; sleep 1000 & echo $! > "${pidFile}"; wait`), { timeoutMs: 300 }),
    );
    assert.equal(result.timedOut, true);
    assert.equal(result.succeeded, false);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGTERM');
    assert.ok(result.durationMs >= 300, String(result.durationMs));
    assert.match(result.tail, /^started\nhostagent: hook configure timed out after 300 ms/);
    const childPid = Number(await fs.readFile(pidFile, 'utf8'));
    assert.ok(childPid > 0);
    await waitUntil(`background child ${childPid} is gone`, () => processGone(childPid));
  });

  it('sends SIGKILL to the group when SIGTERM is ignored', async () => {
    const pidFile = path.join(dir, 'stubborn-child.pid');
    const result = await new HookRunner({ killGraceMs: 200 }).run(
      options(await script(`trap '' TERM; sleep 1000 & echo $! > "${pidFile}"; wait`), { timeoutMs: 200 }),
    );
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(result.durationMs >= 400, String(result.durationMs));
    const childPid = Number(await fs.readFile(pidFile, 'utf8'));
    await waitUntil(`stubborn child ${childPid} is gone`, () => processGone(childPid));
  });

  it('returns when the hook exits even if a process it left behind keeps its output open, without killing it', async () => {
    const pidFile = path.join(dir, 'daemon.pid');
    const result = await new HookRunner({ outputDrainMs: 100 }).run(
      options(await script(`sleep 1000 & echo $! > "${pidFile}"; echo started daemon; exit 0`), { timeoutMs: 60_000 }),
    );
    const daemonPid = Number(await fs.readFile(pidFile, 'utf8'));
    try {
      assert.equal(result.succeeded, true);
      assert.match(result.tail, /started daemon\n.*no longer reading\n$/s);
      assert.equal(processGone(daemonPid), false, 'what the hook started on purpose keeps running');
    } finally {
      process.kill(daemonPid, 'SIGKILL');
    }
  });

  it('caps the log file but keeps the last 16 KiB as the tail', async () => {
    const cap = 1024 * 1024;
    const opts = options(await script(`head -c 5000000 /dev/zero | tr '\\000' 'x'; echo; echo 'last line ✓'`));
    const result = await new HookRunner({ logCapBytes: cap }).run(opts);
    assert.equal(result.succeeded, true);
    assert.equal(result.outputBytes, 5_000_000 + 1 + Buffer.byteLength('last line ✓\n'));
    assert.equal(result.truncated, true);
    assert.ok(Buffer.byteLength(result.tail) <= HOOK_TAIL_MAX_BYTES);
    assert.ok(result.tail.endsWith('\nlast line ✓\n'));
    const logSize = (await fs.stat(opts.logFile)).size;
    assert.ok(logSize >= cap && logSize <= cap + 1024, `log is ${logSize} bytes`);
    const log = await fs.readFile(opts.logFile, 'utf8');
    assert.match(log, /\[hostagent: \d+ more bytes of output dropped past the 1048576-byte log cap\]/);
  });

  it('gives a failed result, not an exception, for a file that is not executable', async () => {
    const opts = options(await script('echo never', 0o644));
    const result = await new HookRunner().run(opts);
    assert.equal(result.succeeded, false);
    assert.equal(result.exitCode, null);
    assert.match(result.spawnError ?? '', /EACCES/);
    assert.match(result.tail, /cannot run hook configure: .*EACCES/);
    assert.match(await fs.readFile(opts.logFile, 'utf8'), /hook configure could not be started/);
  });

  it('gives a failed result for a missing executable and names a missing working directory', async () => {
    const missing = await new HookRunner().run(options(path.join(dir, 'no-such-hook')));
    assert.equal(missing.succeeded, false);
    assert.match(missing.spawnError ?? '', /ENOENT/);

    const badCwd = await new HookRunner().run(options(await script('exit 0'), { cwd: path.join(dir, 'no-such-dir') }));
    assert.equal(badCwd.succeeded, false);
    assert.match(badCwd.spawnError ?? '', /working directory .*no-such-dir does not exist/);
  });

  it('still runs the hook when its log file cannot be written', async () => {
    const blocker = path.join(dir, 'a-file');
    await fs.writeFile(blocker, '');
    const result = await new HookRunner().run(options(await script('echo fine'), { logFile: path.join(blocker, 'x.log') }));
    assert.equal(result.succeeded, true);
    assert.equal(result.tail, 'fine\n');
  });

  describe('when the agent is gone while a hook runs', () => {
    /** An agent stand-in: runs one hook with the HookRunner, then waits (or exits when done). */
    function agent(hook: string, exitWhenDone: boolean): ChildProcess {
      const runner = JSON.stringify(path.join(__dirname, 'hook-runner.js'));
      const code = `const { HookRunner } = require(${runner});
        new HookRunner({ killGraceMs: 1000 }).run(${JSON.stringify(options(hook))}).then(() => ${exitWhenDone ? 'process.exit(0)' : 'undefined'});
        setInterval(() => undefined, 1000);`;
      return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
    }

    it('SIGKILL of the agent: the hook and what it started go too', async () => {
      const pids = path.join(dir, 'hook-pids');
      const child = agent(await script(`sleep 60 & echo $$ $! > ${pids}.tmp; mv ${pids}.tmp ${pids}; wait`), false);
      await waitUntil('the hook to run', () => readFileIfThere(pids) !== null, 10_000);
      const [hookPid, sleepPid] = readFileIfThere(pids)!.trim().split(' ').map(Number);
      assert.ok(!processGone(hookPid!) && !processGone(sleepPid!));
      child.kill('SIGKILL');
      try {
        await waitUntil('the hook and its sleep to be gone', () => processGone(hookPid!) && processGone(sleepPid!), 10_000);
      } finally {
        for (const pid of [hookPid!, sleepPid!]) if (!processGone(pid)) process.kill(pid, 'SIGKILL');
      }
    });

    it('a hook that finished before: what it left running on purpose (a daemon) stays', async () => {
      const pids = path.join(dir, 'daemon-pid');
      const child = agent(await script(`sleep 60 >/dev/null 2>&1 & echo $! > ${pids}.tmp; mv ${pids}.tmp ${pids}`), true);
      await new Promise((resolve) => child.once('exit', resolve));
      const daemon = Number(readFileIfThere(pids));
      await new Promise((resolve) => setTimeout(resolve, 300));
      try {
        assert.ok(!processGone(daemon), 'the daemon runs on');
      } finally {
        process.kill(daemon, 'SIGKILL');
      }
    });
  });

  it('finishes when writing the log file fails midway (ENOSPC)', async () => {
    const result = await new HookRunner().run(options(await script('echo fine'), { logFile: '/dev/full' }));
    assert.equal(result.succeeded, true);
    assert.equal(result.tail, 'fine\n');
  });
});

describe('TailBuffer', () => {
  it('never starts inside a multi-byte character', () => {
    const tail = new TailBuffer(10);
    tail.push(Buffer.from('ab'));
    tail.push(Buffer.from('✓✓✓✓')); // 12 bytes: the last 10 start inside the first ✓
    assert.equal(tail.text(), '✓✓✓');
  });

  it('stays within the limit when invalid bytes decode to replacement characters', () => {
    const tail = new TailBuffer(8);
    tail.push(Buffer.from([0xff, 0xfe, 0xff, 0xfe, 0x41, 0x42]));
    const text = tail.text();
    assert.ok(Buffer.byteLength(text) <= 8, text);
    assert.ok(text.endsWith('AB'));
  });
});
