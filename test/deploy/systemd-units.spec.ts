import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/processes';

const UNITS = ['pf9-comms.service', 'pf9-hostagent.service'].map((name) => join(REPO_ROOT, 'docker/systemd', name));

test('the systemd units pass systemd-analyze verify without a word of complaint', () => {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  assert.equal(found.error, undefined, 'systemd-analyze is needed for this check (Debian: systemd)');
  const result = spawnSync('systemd-analyze', ['verify', ...UNITS], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr.trim(), '', 'systemd-analyze printed warnings');
});

test("the host agent restarts comms through systemd and reaches the plane through comms's sockets, which only pf9 may enter", () => {
  const agent = readFileSync(UNITS[1]!, 'utf8');
  assert.match(agent, /^Environment="PF9_COMMS_COMMAND=systemctl restart pf9-comms"$/m);
  assert.match(agent, /^Environment=PF9_COMMS_SOCKET_DIR=\/run\/pf9-comms$/m);
  assert.match(agent, /^Environment=PF9_COMMS_USER=pf9$/m);
  assert.match(agent, /^Environment=PF9_COMMS_HEALTH_URL=http:\/\/127\.0\.0\.1:9092\/healthz$/m);
  assert.doesNotMatch(agent, /^Environment=(AMQP_URL|PF9_API_URL|PF9_JOIN_URL)=.*127\.0\.0\.1/m, 'no TCP port on 127.0.0.1 that another user could take while comms is down');
  const comms = readFileSync(UNITS[0]!, 'utf8');
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
