import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBouncerConfig } from '../../services/bouncer/bouncer.config';
import { REPO_ROOT } from '../support/processes';

/** A unit file of docker/systemd, by name. */
const unitText = (name: string): string => readFileSync(join(REPO_ROOT, 'docker/systemd', name), 'utf8');

const UNITS = ['pf9-comms.service', 'pf9-hostagent.service', 'pf9-nodeletd.service', 'pf9-bouncer.service', 'pf9-bouncer-renewal.path', 'pf9-bouncer-renewal.service'].map((name) =>
  join(REPO_ROOT, 'docker/systemd', name),
);

test('the systemd units pass systemd-analyze verify without a word of complaint', () => {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  assert.equal(found.error, undefined, 'systemd-analyze is needed for this check (Debian: systemd)');
  const result = spawnSync('systemd-analyze', ['verify', ...UNITS], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr.trim(), '', 'systemd-analyze printed warnings');
});

test("the host agent restarts comms through systemd and reaches the plane through comms's sockets, which only pf9 may enter", () => {
  const agent = unitText('pf9-hostagent.service');
  assert.match(agent, /^Environment="PF9_COMMS_COMMAND=systemctl restart pf9-comms"$/m);
  assert.match(agent, /^Environment=PF9_COMMS_SOCKET_DIR=\/run\/pf9-comms$/m);
  assert.match(agent, /^Environment=PF9_COMMS_USER=pf9$/m);
  assert.match(agent, /^Environment=PF9_COMMS_HEALTH_URL=http:\/\/127\.0\.0\.1:9092\/healthz$/m);
  assert.doesNotMatch(agent, /^Environment=(AMQP_URL|PF9_API_URL|PF9_JOIN_URL)=.*127\.0\.0\.1/m, 'no TCP port on 127.0.0.1 that another user could take while comms is down');
  const comms = unitText('pf9-comms.service');
  assert.match(comms, /^Restart=always$/m);
  assert.match(comms, /^NoNewPrivileges=yes$/m);
  assert.match(comms, /^User=pf9$/m);
  assert.match(comms, /^RuntimeDirectory=pf9-comms$/m);
  assert.match(comms, /^RuntimeDirectoryMode=0700$/m);
  assert.match(comms, /^Environment="PF9_COMMS_LISTEN=amqp=unix:\/run\/pf9-comms\/amqp\.sock,http=unix:\/run\/pf9-comms\/http\.sock,join=unix:\/run\/pf9-comms\/join\.sock"$/m);
});

test('systemd-sysusers makes the user pf9-comms runs as', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sysusers-'));
  try {
    await mkdir(join(root, 'etc'));
    const result = spawnSync('systemd-sysusers', [`--root=${root}`, join(REPO_ROOT, 'docker/systemd/pf9.sysusers')], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^pf9:x:\d+:\d+:hostplane comms:\/:\/usr\/sbin\/nologin$/m);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('bouncer runs as a user of its own with no privilege, reads copies of the host key and broker user, speaks to loopback only', () => {
  const unit = unitText('pf9-bouncer.service');
  for (const line of [
    'DynamicUser=yes',
    'LoadCredential=host.crt:/etc/pf9/certs/host.crt',
    'LoadCredential=host.key:/etc/pf9/certs/host.key',
    'LoadCredential=broker.json:/etc/pf9/broker.json',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    'ProtectSystem=strict',
    'IPAddressDeny=any',
    'IPAddressAllow=localhost',
    'Restart=always',
  ]) {
    assert.match(unit, new RegExp(`^${line.replace(/[.]/g, '\\.')}$`, 'm'), line);
  }
  assert.doesNotMatch(unit, /^User=/m, 'not root, not a shared user');
  // The unit's environment is one bouncer accepts, its files the credentials' copies.
  const env = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace('%d', '/run/credentials/pf9-bouncer.service')]));
  const config = loadBouncerConfig(env);
  assert.deepEqual(config.tls, { certFile: '/run/credentials/pf9-bouncer.service/host.crt', keyFile: '/run/credentials/pf9-bouncer.service/host.key' });
  assert.equal(config.brokerUserFile, '/run/credentials/pf9-bouncer.service/broker.json');
  assert.equal(config.amqpUrl, 'amqp://127.0.0.1:5672', 'the broker through comms');
  // A renewed certificate (written after its key) restarts bouncer with new copies.
  assert.match(unitText('pf9-bouncer-renewal.path'), /^PathChanged=\/etc\/pf9\/certs\/host\.crt$/m);
  assert.match(unitText('pf9-bouncer-renewal.service'), /^ExecStart=\/usr\/bin\/systemctl try-restart pf9-bouncer\.service$/m);
});

test('nodelet runs as root with no new privileges, and its restarts leave what its phases started running', () => {
  const nodelet = unitText('pf9-nodeletd.service');
  assert.doesNotMatch(nodelet, /^User=/m, 'root: its phases configure the kernel, the network and systemd');
  assert.match(nodelet, /^NoNewPrivileges=yes$/m);
  assert.match(nodelet, /^KillMode=process$/m);
  assert.match(nodelet, /^ExecStart=\/usr\/bin\/node \/opt\/pf9\/hostplane\/dist\/services\/nodelet\/main\.js$/m);
  assert.match(nodelet, /^Environment=PF9_NODELET_ADMIN=127\.0\.0\.1:9095$/m);
});
