import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/processes';

const UNITS = ['pf9-comms.service', 'pf9-hostagent.service', 'pf9-nodeletd.service'].map((name) => join(REPO_ROOT, 'docker/systemd', name));

test('the systemd units pass systemd-analyze verify without a word of complaint', () => {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  assert.equal(found.error, undefined, 'systemd-analyze is needed for this check (Debian: systemd)');
  const result = spawnSync('systemd-analyze', ['verify', ...UNITS], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr.trim(), '', 'systemd-analyze printed warnings');
});

test('the host agent restarts comms through systemd and reaches the plane through comms', () => {
  const agent = readFileSync(UNITS[1]!, 'utf8');
  assert.match(agent, /^Environment="PF9_COMMS_COMMAND=systemctl restart pf9-comms"$/m);
  assert.match(agent, /^Environment=AMQP_URL=amqp:\/\/127\.0\.0\.1:5672$/m);
  assert.match(agent, /^Environment=PF9_COMMS_HEALTH_URL=http:\/\/127\.0\.0\.1:9092\/healthz$/m);
  const comms = readFileSync(UNITS[0]!, 'utf8');
  assert.match(comms, /^Restart=always$/m);
  assert.match(comms, /^NoNewPrivileges=yes$/m);
});

test('nodelet runs as root with no new privileges, and its restarts leave what its phases started running', () => {
  const nodelet = readFileSync(UNITS[2]!, 'utf8');
  assert.doesNotMatch(nodelet, /^User=/m, 'root: its phases configure the kernel, the network and systemd');
  assert.match(nodelet, /^NoNewPrivileges=yes$/m);
  assert.match(nodelet, /^KillMode=process$/m);
  assert.match(nodelet, /^ExecStart=\/usr\/bin\/node \/opt\/pf9\/hostplane\/dist\/services\/nodelet\/main\.js$/m);
  assert.match(nodelet, /^Environment=PF9_NODELET_ADMIN=127\.0\.0\.1:9094$/m);
});
