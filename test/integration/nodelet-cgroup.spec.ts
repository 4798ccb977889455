import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeletWorld } from '../support/nodelet-fixtures';
import { tempDir } from '../support/fixtures';
import { waitFor } from '../support/wait';

// Status checks run in the cgroup pf9-kube-status, limited to CPU_LIMIT percent of one
// CPU, written directly to the cgroup file system: measured here from the cgroup's own
// accounting while a status check spins.

const worlds: NodeletWorld[] = [];
after(async () => {
  for (const w of worlds) await w.stopAll();
});

/** The cgroup's CPU time in seconds: cgroup v1 cpuacct.usage (ns), or v2 cpu.stat usage_usec. */
async function cgroupCpuSeconds(): Promise<{ seconds: number; source: string }> {
  const v1 = '/sys/fs/cgroup/cpuacct/pf9-kube-status/cpuacct.usage';
  const v1Joined = '/sys/fs/cgroup/cpu,cpuacct/pf9-kube-status/cpuacct.usage';
  for (const file of [v1, v1Joined]) {
    if (existsSync(file)) return { seconds: Number((await readFile(file, 'utf8')).trim()) / 1e9, source: file };
  }
  const v2 = '/sys/fs/cgroup/pf9-kube-status/cpu.stat';
  if (existsSync(v2)) {
    const usec = /usage_usec (\d+)/.exec(await readFile(v2, 'utf8'));
    if (usec) return { seconds: Number(usec[1]) / 1e6, source: v2 };
  }
  throw new Error('the cgroup pf9-kube-status has no CPU accounting here (cgroup v1 cpuacct or v2 cpu.stat): nodelet could not set it up; see its log');
}

describe('status checks in the CPU-limited cgroup pf9-kube-status', () => {
  test('a busy status check gets about CPU_LIMIT percent of one CPU, by the cgroup\'s own accounting', async () => {
    const w = await NodeletWorld.create([[10, 'spin']], 'nodelet-cpu');
    worlds.push(w);
    await w.config(w.baseConfig({ USE_CGROUPS: true, CPU_LIMIT: 20, LOOP_INTERVAL: 3600, STATUS_TIMEOUT: 60 }));
    const proc = w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    assert.match(proc.stdout, /status checks run in a CPU-limited cgroup/);
    const quota = existsSync('/sys/fs/cgroup/cpu/pf9-kube-status/cpu.cfs_quota_us')
      ? (await readFile('/sys/fs/cgroup/cpu/pf9-kube-status/cpu.cfs_quota_us', 'utf8')).trim()
      : (await readFile('/sys/fs/cgroup/pf9-kube-status/cpu.max', 'utf8')).trim().split(' ')[0];
    assert.equal(quota, '200000', 'CPU_LIMIT 20: 200 ms of every 1 s period');

    await w.set('spin', 'busy', '4');
    const before = await cgroupCpuSeconds();
    const began = process.hrtime.bigint();
    const check = await w.cli(['phases', 'status']);
    const wallS = Number(process.hrtime.bigint() - began) / 1e9;
    const used = (await cgroupCpuSeconds()).seconds - before.seconds;
    assert.equal(check.code, 0, check.stderr);
    assert.ok(wallS >= 4, `the check spun for its 4 s (${wallS.toFixed(2)} s)`);
    const share = used / wallS;
    process.stdout.write(`# busy status check: ${used.toFixed(3)} s of CPU in ${wallS.toFixed(2)} s = ${(share * 100).toFixed(1)}% of one CPU (CPU_LIMIT 20; ${before.source})\n`);
    assert.ok(share > 0.1 && share < 0.26, `about 20% of one CPU, measured ${(share * 100).toFixed(1)}%`);
  });

  test('cgroup v2 (a cgroup root given by PF9_CGROUP_ROOT): cpu.max written, and every status check joins the cgroup', async () => {
    const root = await tempDir('nodelet-cgroup2');
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(join(root, 'cgroup.subtree_control'), '');
    const w = await NodeletWorld.create([[10, 'alpha']], 'nodelet-v2');
    worlds.push(w);
    await w.config(w.baseConfig({ USE_CGROUPS: true, CPU_LIMIT: 35 }));
    const proc = w.start({ PF9_CGROUP_ROOT: root });
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    assert.equal(await readFile(join(root, 'pf9-kube-status/cpu.max'), 'utf8'), '350000 1000000');
    await waitFor('a status check in the cgroup', async () => /^\d+\s*$/.test(await readFile(join(root, 'pf9-kube-status/cgroup.procs'), 'utf8').catch(() => '')));
    assert.match(proc.stdout, /"version":2/);
  });

  test('CPU_LIMIT outside (0, 100]: said once in the log, and the checks run unconfined', async () => {
    const w = await NodeletWorld.create([[10, 'alpha']], 'nodelet-nolimit');
    worlds.push(w);
    await w.config(w.baseConfig({ USE_CGROUPS: true, CPU_LIMIT: 150 }));
    const proc = w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok');
    await waitFor('a few loops', () => w.ops().filter((o) => o === 'alpha status').length >= 3, { timeoutMs: 10_000 });
    const said = proc.stdout.split('\n').filter((l) => /status checks run unconfined/.test(l));
    assert.equal(said.length, 1, 'once');
    assert.match(said[0], /CPU_LIMIT 150 is outside \(0, 100\]/);
  });
});
