import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupStatusCgroup } from './cpu-cgroup';

test('cgroup v2: pf9-kube-status gets cpu.max = CPU_LIMIT percent of a one-second period, and the cpu controller is enabled for it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'nodelet-cgroup2-'));
  await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  await writeFile(join(root, 'cgroup.subtree_control'), 'memory\n');
  const setup = await setupStatusCgroup(root, 40);
  assert.equal(setup.ok, true);
  assert.ok(setup.ok);
  assert.equal(setup.cgroup.version, 2);
  assert.equal(await readFile(join(root, 'pf9-kube-status', 'cpu.max'), 'utf8'), '400000 1000000');
  assert.equal(await readFile(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu');
  assert.deepEqual(setup.cgroup.procsFiles, [join(root, 'pf9-kube-status', 'cgroup.procs')]);
});

test('cgroup v1 (cpu and cpuacct mounted apart): the period and quota written, and the cgroup made in both hierarchies', async () => {
  const root = await mkdtemp(join(tmpdir(), 'nodelet-cgroup1-'));
  await mkdir(join(root, 'cpu'));
  await writeFile(join(root, 'cpu', 'cpu.cfs_quota_us'), '-1\n');
  await mkdir(join(root, 'cpuacct'));
  await writeFile(join(root, 'cpuacct', 'cpuacct.usage'), '0\n');
  const setup = await setupStatusCgroup(root, 25);
  assert.ok(setup.ok);
  assert.equal(setup.cgroup.version, 1);
  assert.equal(await readFile(join(root, 'cpu', 'pf9-kube-status', 'cpu.cfs_period_us'), 'utf8'), '1000000');
  assert.equal(await readFile(join(root, 'cpu', 'pf9-kube-status', 'cpu.cfs_quota_us'), 'utf8'), '250000');
  assert.deepEqual(setup.cgroup.procsFiles, [join(root, 'cpu', 'pf9-kube-status', 'cgroup.procs'), join(root, 'cpuacct', 'pf9-kube-status', 'cgroup.procs')]);
});

test('CPU_LIMIT outside (0, 100], or no cgroup at all: not usable, with the reason', async () => {
  for (const limit of [0, -5, 100.5, Number.NaN]) {
    const setup = await setupStatusCgroup('/sys/fs/cgroup', limit);
    assert.equal(setup.ok, false);
    assert.ok(!setup.ok && /outside \(0, 100\]/.test(setup.reason));
  }
  const empty = await mkdtemp(join(tmpdir(), 'nodelet-nocgroup-'));
  const none = await setupStatusCgroup(empty, 40);
  assert.ok(!none.ok && /no cgroup v1 cpu controller/.test(none.reason));
});
