import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHIPPED_PHASES_DIR } from '../../services/nodelet/nodelet.paths';
import { vrrpPassword } from '../../services/nodelet/vrrp-password';
import { NodeletWorld, processRunning } from '../support/nodelet-fixtures';
import { waitFor } from '../support/wait';

// The shipped keepalived phase (180) under nodelet: keepalived.conf from MASTER_VIP_*, a VRRP
// password per cluster that no log shows, a hand edit found by content and put back. The
// real keepalived runs only inside a network namespace made here, on a veth pair that
// lives in it: no VRRP packet reaches this machine's own interfaces.

const NETNS = `nodelet-test-${randomBytes(3).toString('hex')}`;
const worlds: NodeletWorld[] = [];

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

after(async () => {
  for (const w of worlds) {
    await w.cli(['phases', 'stop', '--force']).catch(() => undefined);
    await w.stopAll();
  }
  try {
    ip('netns', 'del', NETNS);
  } catch {
    // not made
  }
});

describe('the shipped keepalived phase', () => {
  test('writes keepalived.conf for the VIP with a per-cluster password, runs keepalived (in a namespace of its own), and puts a hand edit back at the next status check', async () => {
    ip('netns', 'add', NETNS);
    ip('-n', NETNS, 'link', 'add', 'vip0', 'type', 'veth', 'peer', 'name', 'vip1');
    ip('-n', NETNS, 'link', 'set', 'vip0', 'up');
    ip('-n', NETNS, 'link', 'set', 'vip1', 'up');
    ip('-n', NETNS, 'addr', 'add', '198.51.100.10/24', 'dev', 'vip0');

    const w = await NodeletWorld.create([], 'nodelet-keepalived');
    worlds.push(w);
    for (const file of ['180-keepalived.sh', 'lib']) await symlink(join(SHIPPED_PHASES_DIR, file), join(w.phasesDir, file));
    const vip = { MASTER_VIP_ENABLED: true, MASTER_VIP_IFACE: 'vip0', MASTER_VIP_VROUTER_ID: 51, MASTER_IP: '198.51.100.100', MASTER_VIP_CHECK_APISERVER: false, CLUSTER_ID: 'cluster-a' };
    await w.config(w.baseConfig({ ...vip, LOOP_INTERVAL: 1 }));
    // kube_override.env: sourced after kube.env by every phase; here it keeps keepalived in the namespace.
    await writeFile(join(w.root, 'etc/pf9/kube_override.env'), `KEEPALIVED_CMD="ip netns exec ${NETNS} keepalived"\n`);
    const proc = w.start();
    await w.waitStatus('the node ok', (s) => s.pf9_kube_node_state === 'ok', 30_000);

    const confFile = join(w.root, 'etc/keepalived/keepalived.conf');
    const conf = await readFile(confFile, 'utf8');
    assert.equal((await stat(confFile)).mode & 0o777, 0o600);
    assert.match(conf, /interface vip0\n/);
    assert.match(conf, /virtual_router_id 51\n/);
    assert.match(conf, /198\.51\.100\.100\n/);
    const key = Buffer.from((await readFile(join(w.root, 'var/opt/pf9/nodelet/cluster.key'), 'utf8')).trim(), 'hex');
    const password = vrrpPassword(key, 'cluster-a', 51);
    assert.match(conf, new RegExp(`auth_pass ${password.replace(/[-]/g, '\\-')}\\n`));
    assert.equal(password.length, 8);
    assert.notEqual(vrrpPassword(key, 'cluster-b', 51), password, 'another cluster, another password');
    await waitFor('keepalived holds the VIP in its namespace', () => /198\.51\.100\.100\/32/.test(ip('-n', NETNS, 'addr', 'show', 'vip0')), { timeoutMs: 15_000 });
    assert.doesNotMatch(ip('addr'), /198\.51\.100\.100/, 'never on this machine\'s own interfaces');

    await writeFile(confFile, conf.replace('interface vip0', 'interface vip1'));
    await w.waitStatus('the drift found', (s) => s.last_failed_status_check === 'keepalived', 15_000);
    await waitFor('keepalived.conf put back', async () => (await readFile(confFile, 'utf8').catch(() => '')) === conf, { timeoutMs: 15_000 });
    await w.waitStatus('ok again', (s) => s.pf9_kube_node_state === 'ok' && s.current_task === '', 15_000);
    const log = await readFile(join(w.root, 'var/log/pf9/nodelet/phases.log'), 'utf8');
    assert.match(log, /keepalived\.conf differs from MASTER_VIP_\* \(edited by hand\?\): it is put back/);
    for (const text of [proc.stdout, proc.stderr, log, await readFile(join(w.root, 'etc/pf9/kube.env'), 'utf8'), JSON.stringify(await w.status())]) {
      assert.ok(!text.includes(password), 'the VRRP password is in no log, kube.env or status');
    }

    const pid = Number(await readFile(join(w.root, 'var/run/pf9/pf9-keepalived.pid'), 'utf8'));
    assert.equal((await w.cli(['phases', 'stop', '--force'])).code, 0);
    await waitFor('keepalived stopped', () => !processRunning(pid));
    await waitFor('the VIP released', () => !/198\.51\.100\.100/.test(ip('-n', NETNS, 'addr', 'show', 'vip0')));
  });

  test('keepalived itself accepts the configuration the phase writes, API server check included (keepalived -t); MASTER_VIP_ENABLED false runs none', async () => {
    const w = await NodeletWorld.create([], 'nodelet-keepalived-conf');
    worlds.push(w);
    // Real keepalived for its configuration test only; the "daemon" is a sleep, far from any interface.
    const wrapper = join(w.root, 'keepalived-config-test-only');
    await writeFile(wrapper, '#!/bin/sh\ncase " $* " in *" -t "*) exec keepalived "$@" ;; *) exec sleep 300 ;; esac\n');
    await chmod(wrapper, 0o755);
    const phase = join(SHIPPED_PHASES_DIR, '180-keepalived.sh');
    const env = { PATH: process.env.PATH, PF9_ROOT: w.root, NODELET_PHASE: 'keepalived', MASTER_VIP_ENABLED: 'true', MASTER_VIP_IFACE: 'eth0', MASTER_VIP_VROUTER_ID: '200', MASTER_IP: '198.51.100.200', KEEPALIVED_AUTH_PASS: 'Ab3-_xYz', KEEPALIVED_CMD: wrapper };
    execFileSync(phase, ['start'], { env, encoding: 'utf8' });
    const conf = join(w.root, 'etc/keepalived/keepalived.conf');
    assert.match(await readFile(conf, 'utf8'), /track_script \{\n\s+chk_apiserver/);
    execFileSync('keepalived', ['-t', '-f', conf], { stdio: 'pipe' });
    execFileSync(phase, ['status'], { env });
    const broken = (await readFile(conf, 'utf8')).replace('virtual_router_id 200', 'virtual_router_id 300');
    await writeFile(conf, broken);
    assert.throws(() => execFileSync('keepalived', ['-t', '-f', conf], { stdio: 'pipe' }), 'keepalived -t does refuse a bad file');
    assert.throws(() => execFileSync(phase, ['status'], { env, stdio: 'pipe' }), /differs from MASTER_VIP_/);
    execFileSync(phase, ['stop'], { env });
    const off = { ...env, MASTER_VIP_ENABLED: 'false' };
    assert.match(execFileSync(phase, ['start'], { env: off, encoding: 'utf8' }), /MASTER_VIP_ENABLED is not true: no keepalived/);
    execFileSync(phase, ['status'], { env: off });
  });
});
