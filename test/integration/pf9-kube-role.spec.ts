import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeletWorld } from '../support/nodelet-fixtures';
import { REPO_ROOT } from '../support/processes';
import { waitFor } from '../support/wait';

// The pf9-kube role's hooks, run as the host agent runs them (CONTRACT.md section 6), against
// a running nodelet with stand-in phases.

const ROLE_DIR = join(REPO_ROOT, 'examples/roles/pf9-kube');
const HOOKS: Record<string, string> = { install: 'install', configure: 'configure', start: 'start', status: 'status', getConfig: 'get-config', stop: 'stop', remove: 'remove' };

async function hook(root: string, name: keyof typeof HOOKS, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(ROLE_DIR, 'bin', HOOKS[name]), [], {
    cwd: ROLE_DIR,
    env: { PATH: process.env.PATH, PF9_ROLE: 'pf9-kube', PF9_ROLE_VERSION: '1.0.0', PF9_ROLE_DIR: ROLE_DIR, PF9_HOST_ID: 'h1', PF9_ROOT: root },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

const worlds: NodeletWorld[] = [];
after(async () => {
  for (const w of worlds) await w.stopAll();
});

describe('the pf9-kube role', () => {
  test('configure writes 10-role.yaml and nodelet applies it; start waits for the node; status follows the node state; getConfig shows a hand edit; stop and remove take everything down', async () => {
    const w = await NodeletWorld.create([[10, 'alpha'], [20, 'certs'], [30, 'gamma']], 'pf9-kube-role');
    worlds.push(w);
    const launcher = join(w.root, 'opt/pf9/hostplane/bin/nodeletd');
    await mkdir(join(w.root, 'opt/pf9/hostplane/bin'), { recursive: true });
    await writeFile(launcher, `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, 'bin/nodeletd')}" "$@"\n`);
    await chmod(launcher, 0o755);
    const proc = w.start();
    await waitFor('nodelet started', () => /nodelet started/.test(proc.stdout));

    assert.equal((await hook(w.root, 'install')).code, 0);
    const config = { ROLE: 'master', CLUSTER_ID: 'c1', KUBE_SERVICE_STATE: 'true', PHASES_DIR: w.phasesDir, LOOP_INTERVAL: 1, PHASE_RETRY: 1, USE_CGROUPS: false, ETCD_BACKUP_KEEP: 5 };
    const refused = await hook(w.root, 'configure', JSON.stringify({ ...config, ETCD_BACKUP_DAILY_AT: '7 am' }));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /10-role\.yaml: ETCD_BACKUP_DAILY_AT: expected a time of day as HH:MM/);
    assert.equal((await hook(w.root, 'getConfig')).stdout.trim(), 'null', 'nothing written');

    const configured = await hook(w.root, 'configure', JSON.stringify(config));
    assert.equal(configured.code, 0, configured.stderr);
    const started = await hook(w.root, 'start');
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout.trim(), 'ok', 'start returns once the node is up');
    assert.equal((await hook(w.root, 'status')).code, 0);
    assert.deepEqual(JSON.parse((await hook(w.root, 'getConfig')).stdout), config, 'what nodelet runs is what the plane asked');

    const file = join(w.root, 'etc/pf9/nodelet/10-role.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('CLUSTER_ID: c1', 'CLUSTER_ID: c2'));
    assert.equal(JSON.parse((await hook(w.root, 'getConfig')).stdout).CLUSTER_ID, 'c2', 'a hand edit shows as drift');
    assert.equal((await hook(w.root, 'configure', JSON.stringify(config))).code, 0, 'and configure puts it back');
    assert.equal(JSON.parse((await hook(w.root, 'getConfig')).stdout).CLUSTER_ID, 'c1');

    await w.unset('gamma', 'up');
    await w.set('gamma', 'fail-start', 'always');
    await w.waitStatus('retrying', (s) => s.pf9_kube_node_state === 'retrying');
    assert.equal((await hook(w.root, 'status')).code, 1, 'not healthy while the node is not ok');
    await w.unset('gamma', 'fail-start');
    await w.waitStatus('ok again', (s) => s.pf9_kube_node_state === 'ok');

    await w.clearOps();
    assert.equal((await hook(w.root, 'stop')).code, 0);
    assert.deepEqual(w.ops(), ['gamma stop', 'certs stop', 'alpha stop']);
    const removed = await hook(w.root, 'remove');
    assert.equal(removed.code, 0, removed.stderr);
    for (const gone of ['etc/pf9/nodelet/10-role.yaml', 'var/opt/pf9/kube_status', 'etc/pf9/kube.env']) assert.equal(existsSync(join(w.root, gone)), false, `${gone} removed`);
    assert.equal((await hook(w.root, 'status')).code, 0, 'no role, nothing asked of the node');
  });
});
