import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { HostDetailView, HostSummaryView } from '#contracts';
import { FakeRoleStore, runCliCollect } from './fake-role-store.testing';
import { formatBytes } from './hosts.command';

const HOSTS: HostSummaryView[] = [
  { id: 'host-a', hostname: 'node-a.example', state: 'authorized', online: true, lastHeartbeatAt: '2025-01-01T10:00:00.000Z' },
  { id: 'host-b', hostname: 'b', state: 'unauthorized', online: false, lastHeartbeatAt: null },
];

const DETAIL: HostDetailView = {
  ...HOSTS[0],
  brokerIdentity: 'own',
  info: {
    hostId: 'host-a',
    hostname: 'node-a.example',
    agentVersion: '0.1.0',
    sentAt: '2025-01-01T10:00:00.000Z',
    uptimeS: 3600,
    cpu: { model: 'AMD EPYC 7B13', cores: 8, loadavg: [0.1, 0.2, 0.3], usagePct: 12.5 },
    memory: { totalBytes: 16 * 1024 ** 3, availableBytes: 8.5 * 1024 ** 3 },
    storage: [{ mount: '/', fs: 'ext4', totalBytes: 100, usedBytes: 50 }],
    network: [
      { name: 'lo', mac: '00:00:00:00:00:00', addresses: [{ family: 'IPv4', address: '127.0.0.1', cidr: '127.0.0.1/8' }] },
      { name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', addresses: [{ family: 'IPv4', address: '10.0.0.5', cidr: '10.0.0.5/24' }] },
    ],
    os: { platform: 'linux', release: '6.1.0-18-amd64', distro: 'Debian GNU/Linux 12 (bookworm)' },
    roles: [{ name: 'demo', version: '1.0.0', state: 'applied', generation: 3 }],
  },
  roles: [
    { name: 'demo', version: '1.0.0', config: { a: 1 }, desiredGeneration: 3, appliedGeneration: 3, state: 'applied', message: null, failures: 0 },
    {
      name: 'keepalived-vip',
      version: '1.0.0',
      config: {},
      desiredGeneration: 4,
      appliedGeneration: null,
      state: 'failed',
      message: 'configure exited 1:\nkeepalived-vip: config is missing priority',
      failures: 3,
    },
  ],
  nodelet: null,
};

describe('hosts commands', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  it('hosts list prints a table of hosts', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: HOSTS });
    const run = await runCliCollect(['hosts', 'list'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      store.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /v1/hosts'],
    );
    assert.equal(
      run.stdout,
      [
        'ID      HOSTNAME        STATE         ONLINE  LAST HEARTBEAT',
        'host-a  node-a.example  authorized    yes     2025-01-01T10:00:00.000Z',
        'host-b  b               unauthorized  no      -',
        '',
      ].join('\n'),
    );
  });

  it('hosts list --json prints the raw answer', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: HOSTS });
    const run = await runCliCollect(['hosts', 'list', '--json'], { env });
    assert.equal(run.code, 0);
    assert.deepEqual(JSON.parse(run.stdout), HOSTS);
  });

  it('hosts show prints the host, an inventory summary and its roles', async () => {
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: DETAIL });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.ok(lines.includes('ID:               host-a'), run.stdout);
    assert.ok(lines.includes('State:            authorized'));
    assert.ok(lines.includes('Online:           yes'));
    assert.ok(lines.includes('OS:               Debian GNU/Linux 12 (bookworm) (linux 6.1.0-18-amd64)'));
    assert.ok(lines.includes('CPU:              AMD EPYC 7B13, 8 cores'));
    assert.ok(lines.includes('Memory:           16.0 GiB total, 8.5 GiB available'));
    assert.ok(lines.includes('Addresses:        eth0 10.0.0.5/24'), 'loopback left out');
    const table = lines.slice(lines.findIndex((l) => l.startsWith('NAME ')));
    assert.deepEqual(table, [
      'NAME            VERSION  STATE    FAILURES  DESIRED-GEN  APPLIED-GEN  MESSAGE',
      'demo            1.0.0    applied  0         3            3',
      'keepalived-vip  1.0.0    failed   3         4            -            configure exited 1: keepalived-vip: config is missing prior…',
      '',
    ]);
  });

  it('hosts show prints the disks of the inventory: mount, file system, size, used', async () => {
    const storage = [
      { mount: '/', fs: 'ext4', totalBytes: 100 * 1024 ** 3, usedBytes: 25 * 1024 ** 3 },
      { mount: '/var/lib/docker', fs: 'xfs', totalBytes: 2 * 1024 ** 4, usedBytes: 0 },
    ];
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: { ...DETAIL, info: { ...DETAIL.info!, storage } } });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    const at = lines.indexOf('Disks:');
    assert.ok(at > 0, run.stdout);
    assert.deepEqual(lines.slice(at, at + 4), [
      'Disks:',
      'MOUNT            FS    SIZE       USED',
      '/                ext4  100.0 GiB  25.0 GiB (25%)',
      '/var/lib/docker  xfs   2.0 TiB    0 B (0%)',
    ]);
  });

  it("hosts show prints what a host reports without its control characters: a host cannot drive the operator's terminal", async () => {
    const storage = [{ mount: '/mnt/\u001b]0;owned\u0007\u001b[2J', fs: 'ext4', totalBytes: 0, usedBytes: 0 }];
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: { ...DETAIL, info: { ...DETAIL.info!, storage, hostname: 'a\u001b[31mred' } } });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(![...run.stdout].some((c) => c !== '\n' && (c < ' ' || (c >= '\u007f' && c <= '\u009f'))), JSON.stringify(run.stdout));
    assert.ok(run.stdout.split('\n').some((line) => /^\/mnt\/\\x1b\]0;owned\\x07\\x1b\[2J +ext4 +0 B +0 B$/.test(line)), run.stdout);
  });

  it('hosts show says so when the host has sent no heartbeat and has no roles', async () => {
    store.on('GET', '/v1/hosts/host-b', { status: 200, json: { ...HOSTS[1], info: null, roles: [], nodelet: null, brokerIdentity: 'own' } });
    const run = await runCliCollect(['hosts', 'show', 'host-b'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Inventory: +none yet \(no heartbeat received\)$/m);
    assert.match(run.stdout, /^Roles: none assigned$/m);
  });

  it("hosts show prints nodelet's state: node state, the etcd backup (with its warning when stale) and each phase", async () => {
    const nodelet: HostDetailView['nodelet'] = {
      state: 'retrying',
      clusterId: 'c1',
      role: 'master',
      attempt: 2,
      phases: [
        { order: 20, name: 'certificates', state: 'running', message: '', attempts: 1 },
        { order: 55, name: 'etcd-start', state: 'failed', message: 'first line\netcd is not healthy', attempts: 2 },
      ],
      reportedAt: '2025-01-01T10:00:00.000Z',
      kubeServiceState: 'true',
      configError: null,
      hold: false,
      etcdBackup: {
        lastSuccessAt: '2024-12-01T00:00:00.000Z',
        sizeBytes: 2 * 1024 * 1024,
        revision: 42,
        lastFailureAt: null,
        lastError: null,
        expectedIntervalS: 86400,
        stale: true,
        warning: 'the last etcd backup is from 2024-12-01T00:00:00.000Z, more than twice the expected 86400 s ago',
      },
    };
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: { ...DETAIL, nodelet } });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Nodelet: +retrying \(master, cluster c1, attempt 2\) at 2025-01-01T10:00:00\.000Z$/m);
    assert.match(run.stdout, /^etcd backup: +2024-12-01T00:00:00\.000Z \(2\.0 MiB, revision 42\)$/m);
    assert.match(run.stdout, /^WARNING: +the last etcd backup is from 2024-12-01/m);
    assert.match(run.stdout, /^ORDER +PHASE +STATE +ATTEMPTS +LAST MESSAGE\n20 +certificates +running +1\n55 +etcd-start +failed +2 +etcd is not healthy$/m);
  });

  it('hosts show --json prints the raw answer, inventory included', async () => {
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: DETAIL });
    const run = await runCliCollect(['hosts', 'show', 'host-a', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), DETAIL);
  });

  it('hosts show escapes the host id in the path', async () => {
    const run = await runCliCollect(['hosts', 'show', 'a/b c'], { env });
    assert.equal(run.code, 1);
    assert.equal(store.requests[0].path, '/v1/hosts/a%2Fb%20c');
  });

  it('hosts show refuses an answer that is not a host', async () => {
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: { ...DETAIL, info: { hostId: 'host-a' } } });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'error: the role store did not answer with a host\n');
  });

  it('authorize and deauthorize POST to the host and print its new state', async () => {
    store.on('POST', '/v1/hosts/host-b/authorize', { status: 200, json: { hostId: 'host-b', state: 'authorized' } });
    store.on('POST', '/v1/hosts/host-b/deauthorize', { status: 200, json: { hostId: 'host-b', state: 'unauthorized' } });
    const on = await runCliCollect(['authorize', 'host-b'], { env });
    const off = await runCliCollect(['deauthorize', 'host-b'], { env });
    assert.deepEqual([on.code, on.stdout, off.code, off.stdout], [0, 'host host-b authorized\n', 0, 'host host-b unauthorized\n']);
    assert.deepEqual(
      store.requests.map((r) => `${r.method} ${r.path} ${r.body.length}`),
      ['POST /v1/hosts/host-b/authorize 0', 'POST /v1/hosts/host-b/deauthorize 0'],
    );
  });

  it('authorize --json prints the raw answer', async () => {
    store.on('POST', '/v1/hosts/host-b/authorize', { status: 200, json: { hostId: 'host-b', state: 'authorized' } });
    const run = await runCliCollect(['--json', 'authorize', 'host-b'], { env });
    assert.deepEqual(JSON.parse(run.stdout), { hostId: 'host-b', state: 'authorized' });
  });

  it('authorize of an unknown host prints the API error and exits 1', async () => {
    store.on('POST', '/v1/hosts/nope/authorize', {
      status: 404,
      json: { error: { code: 'NOT_FOUND', message: 'host nope is not known', details: [] } },
    });
    const run = await runCliCollect(['authorize', 'nope'], { env });
    assert.deepEqual(run, { code: 1, stdout: '', stderr: 'error: NOT_FOUND: host nope is not known\n' });
  });
});

describe('what hosts report reaches the terminal without its control characters', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  // Clears the screen, sets the window title, a C1 CSI (red), a right-to-left override, DEL, a bell, a backspace.
  const HOSTILE = 'evil\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202etxt.exe\u007f\b';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for here
  const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  const hostile: HostDetailView = {
    ...DETAIL,
    hostname: HOSTILE,
    info: { ...DETAIL.info!, hostname: HOSTILE, os: { ...DETAIL.info!.os, distro: `Debian${HOSTILE}` }, cpu: { ...DETAIL.info!.cpu, model: `cpu${HOSTILE}` } },
    roles: [{ ...DETAIL.roles[0], state: 'failed', message: `hook said:\n${HOSTILE}\r\u001b[1A` }],
  };

  it('in tables and fields: every control but the line breaks of the layout is written out visibly', async () => {
    store.on('GET', '/v1/hosts', { status: 200, json: [{ ...HOSTS[0], hostname: HOSTILE }] });
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: hostile });
    for (const argv of [['hosts', 'list'], ['hosts', 'show', 'host-a']]) {
      const run = await runCliCollect(argv, { env });
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stdout.replace(/\n/g, ''), CONTROLS, `${argv.join(' ')}: ${JSON.stringify(run.stdout)}`);
      assert.ok(run.stdout.includes('evil\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202etxt.exe\\x7f\\x08'), `${argv.join(' ')}: shown, escaped: ${run.stdout}`);
    }
  });

  it('in --json: the exact JSON value, with the controls JSON leaves raw escaped as well', async () => {
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: hostile });
    const run = await runCliCollect(['hosts', 'show', 'host-a', '--json'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), hostile);
    assert.doesNotMatch(run.stdout.replace(/\n/g, ''), CONTROLS);
  });

  it('in error messages', async () => {
    store.on('POST', '/v1/hosts/h1/authorize', { status: 409, json: { error: { code: 'CONFLICT', message: `host ${HOSTILE}`, details: [HOSTILE] } } });
    const run = await runCliCollect(['authorize', 'h1'], { env });
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr.replace(/\n/g, ''), CONTROLS, run.stderr);
  });
});

describe('hosts delete', () => {
  let store: FakeRoleStore;
  let env: { HOSTPLANE_API: string };
  beforeEach(async () => {
    store = await FakeRoleStore.start();
    env = { HOSTPLANE_API: store.url };
  });
  afterEach(() => store.close());

  it('DELETEs the host and says what was done', async () => {
    store.on('DELETE', '/v1/hosts/host-a', { status: 200, json: { hostId: 'host-a', state: 'decommissioned', brokerUser: 'deleted', certificateRevoked: true } });
    const run = await runCliCollect(['hosts', 'delete', 'host-a'], { env });
    assert.deepEqual(run, { code: 0, stdout: 'host host-a decommissioned: broker user deleted, certificate revoked\n', stderr: '' });
    assert.deepEqual(store.requests.map((r) => `${r.method} ${r.path}`), ['DELETE /v1/hosts/host-a']);
  });

  it('says when the broker has not deleted the user yet, and prints the raw answer with --json', async () => {
    const answer = { hostId: 'host-a', state: 'decommissioned', brokerUser: 'pending', certificateRevoked: false };
    store.on('DELETE', '/v1/hosts/host-a', { status: 200, json: answer });
    assert.match((await runCliCollect(['hosts', 'delete', 'host-a'], { env })).stdout, /to be deleted .*tried again.*no certificate to revoke/);
    assert.deepEqual(JSON.parse((await runCliCollect(['hosts', 'delete', 'host-a', '--json'], { env })).stdout), answer);
  });

  it('hosts show says which broker identity the host has', async () => {
    store.on('GET', '/v1/hosts/host-a', { status: 200, json: { ...DETAIL, brokerIdentity: 'shared-insecure' } });
    const run = await runCliCollect(['hosts', 'show', 'host-a'], { env });
    assert.match(run.stdout, /^Broker identity: +shared-insecure \(a broker user hosts share, PF9_INSECURE_SHARED_BROKER_USER: it can act as any of them\)$/m);
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  });
});
