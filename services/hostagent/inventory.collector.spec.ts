import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeDetails, validateMessage } from '#contracts';
import { InventoryCollector, parseOsRelease, type FsUsage, type HostInventory, type SystemInfoSource } from './inventory.collector';

function assertValidHeartbeat(inventory: HostInventory): void {
  const result = validateMessage('host.heartbeat', {
    ...inventory,
    hostId: 'h1',
    agentVersion: '0.1.0',
    sentAt: new Date().toISOString(),
    roles: [],
  });
  assert.ok(result.ok, result.ok ? '' : describeDetails(result.details));
}

describe('InventoryCollector on this machine', () => {
  it('reports plausible values that make a valid heartbeat', async () => {
    const collector = new InventoryCollector();
    const inv = await collector.collect();
    assert.equal(inv.hostname, os.hostname());
    assert.ok(inv.uptimeS > 0);
    assert.ok(inv.cpu.cores >= 1);
    assert.ok(inv.cpu.model.length > 0);
    assert.equal(inv.cpu.loadavg.length, 3);
    assert.ok(inv.cpu.usagePct >= 0 && inv.cpu.usagePct <= 100);
    assert.ok(inv.memory.totalBytes > 0);
    assert.ok(inv.memory.availableBytes > 0 && inv.memory.availableBytes <= inv.memory.totalBytes);
    const root = inv.storage.find((s) => s.mount === '/');
    assert.ok(root, `no "/" among ${JSON.stringify(inv.storage)}`);
    assert.ok(root.totalBytes > 0 && root.usedBytes <= root.totalBytes);
    for (const s of inv.storage) assert.ok(!['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'cgroup', 'cgroup2'].includes(s.fs), s.fs);
    assert.ok(!inv.network.some((n) => n.name === 'lo'));
    assert.equal(inv.os.platform, os.platform());
    assert.equal(inv.os.release, os.release());
    assertValidHeartbeat(inv);

    const second = await collector.collect();
    assert.ok(second.cpu.usagePct >= 0 && second.cpu.usagePct <= 100);
    assertValidHeartbeat(second);
  });
});

describe('InventoryCollector against fixtures', () => {
  let dir: string;

  const meminfo = [
    'MemTotal:       16318488 kB',
    'MemFree:         1024000 kB',
    'MemAvailable:    8000000 kB',
    'HugePages_Total:       0',
    '',
  ].join('\n');

  const mounts = [
    'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
    'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
    'udev /dev devtmpfs rw,nosuid,relatime,size=8000000k 0 0',
    '/dev/sda2 / ext4 rw,relatime 0 0',
    'tmpfs /run tmpfs rw,nosuid,nodev 0 0',
    'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0',
    '/dev/sda1 /boot/efi vfat rw,relatime 0 0',
    '/dev/loop0 /snap/core22/1380 squashfs ro,nodev,relatime 0 0',
    '/dev/sdb1 /mnt/data\\040disk xfs rw,relatime 0 0',
    '/dev/sda2 /var/lib/docker ext4 rw,relatime 0 0',
    'overlay /var/lib/docker/overlay2/aaa/merged overlay rw,lowerdir=x 0 0',
    'overlay /var/lib/docker/overlay2/bbb/merged overlay rw,lowerdir=y 0 0',
    'nas:/export /mnt/nas nfs4 rw 0 0',
    '/dev/sdc1 /mnt/gone ext4 rw 0 0',
    '',
  ].join('\n');

  const usage: Record<string, FsUsage> = {
    '/': { bsize: 4096, blocks: 1000, bfree: 250 },
    '/boot/efi': { bsize: 512, blocks: 200, bfree: 100 },
    '/mnt/data disk': { bsize: 4096, blocks: 10, bfree: 10 },
    '/var/lib/docker/overlay2/aaa/merged': { bsize: 4096, blocks: 1000, bfree: 250 },
    '/var/lib/docker/overlay2/bbb/merged': { bsize: 4096, blocks: 1000, bfree: 250 },
    '/mnt/nas': { bsize: 1024, blocks: 0, bfree: 0 }, // an automount not yet triggered
  };

  let cpuTimes = [
    { user: 100, nice: 0, sys: 50, idle: 800, irq: 50 },
    { user: 200, nice: 100, sys: 50, idle: 650, irq: 0 },
  ];

  const system: SystemInfoSource = {
    hostname: () => 'fixture-host',
    uptime: () => 3600.7,
    cpus: () => cpuTimes.map((times) => ({ model: ' Fixture CPU @ 2.00GHz ', speed: 2000, times })),
    loadavg: () => [0.5, 0.25, 0.125],
    totalmem: () => 1,
    freemem: () => 1,
    networkInterfaces: () => ({
      lo: [
        { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
      ],
      eth0: [
        { address: '10.0.0.5', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:12:34:56', internal: false, cidr: '10.0.0.5/24' },
        { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
      ],
    }),
    platform: () => 'linux',
    release: () => '6.8.0-fixture',
  };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostplane-inventory-'));
    await fs.mkdir(path.join(dir, 'proc', 'self'), { recursive: true });
    await fs.writeFile(path.join(dir, 'proc', 'meminfo'), meminfo);
    await fs.writeFile(path.join(dir, 'proc', 'self', 'mounts'), mounts);
    await fs.writeFile(
      path.join(dir, 'os-release'),
      'NAME="Ubuntu"\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\n',
    );
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  function collector(osReleasePaths = [path.join(dir, 'os-release')]): InventoryCollector {
    return new InventoryCollector({
      procRoot: path.join(dir, 'proc'),
      osReleasePaths,
      system,
      statfs: async (mount) => {
        const u = usage[mount];
        if (u === undefined) throw Object.assign(new Error(`ENOENT: ${mount}`), { code: 'ENOENT' });
        return u;
      },
    });
  }

  it('reads exactly what the fixture files and the system source say', async () => {
    const inv = await collector().collect();
    const expected: HostInventory = {
      hostname: 'fixture-host',
      uptimeS: 3600,
      // Since boot: busy 200 + 350 = 550 of 1000 + 1000 = 2000 → 27.5 %.
      cpu: { model: 'Fixture CPU @ 2.00GHz', cores: 2, loadavg: [0.5, 0.25, 0.13], usagePct: 27.5 },
      memory: { totalBytes: 16318488 * 1024, availableBytes: 8000000 * 1024 },
      storage: [
        { mount: '/', fs: 'ext4', totalBytes: 4096000, usedBytes: 3072000 },
        { mount: '/boot/efi', fs: 'vfat', totalBytes: 102400, usedBytes: 51200 },
        { mount: '/mnt/data disk', fs: 'xfs', totalBytes: 40960, usedBytes: 0 },
        { mount: '/var/lib/docker/overlay2/aaa/merged', fs: 'overlay', totalBytes: 4096000, usedBytes: 3072000 },
        { mount: '/var/lib/docker/overlay2/bbb/merged', fs: 'overlay', totalBytes: 4096000, usedBytes: 3072000 },
      ],
      network: [
        {
          name: 'eth0',
          mac: '52:54:00:12:34:56',
          addresses: [
            { family: 'IPv4', address: '10.0.0.5', cidr: '10.0.0.5/24' },
            { family: 'IPv6', address: 'fe80::1', cidr: 'fe80::1/64' },
          ],
        },
      ],
      os: { platform: 'linux', release: '6.8.0-fixture', distro: 'Ubuntu 24.04.1 LTS' },
    };
    assert.deepEqual(inv, expected);
    assertValidHeartbeat(inv);
  });

  it('measures CPU usage between two calls', async () => {
    const saved = cpuTimes;
    try {
      const c = collector();
      await c.collect();
      // +60 busy and +40 idle on one CPU, +0 busy and +100 idle on the other → 60 of 200 = 30 %.
      cpuTimes = [
        { user: 140, nice: 0, sys: 60, idle: 840, irq: 60 },
        { user: 200, nice: 100, sys: 50, idle: 750, irq: 0 },
      ];
      assert.equal((await c.collect()).cpu.usagePct, 30);
      // No tick in between: the last figure stands.
      assert.equal((await c.collect()).cpu.usagePct, 30);
    } finally {
      cpuTimes = saved;
    }
  });

  it('falls back when files are missing', async () => {
    const c = new InventoryCollector({
      procRoot: path.join(dir, 'no-proc'),
      osReleasePaths: [path.join(dir, 'missing-os-release')],
      system: { ...system, totalmem: () => 2048, freemem: () => 1024 },
    });
    const inv = await c.collect();
    assert.deepEqual(inv.memory, { totalBytes: 2048, availableBytes: 1024 });
    assert.deepEqual(inv.storage, []);
    assert.equal(inv.os.distro, 'unknown');
    assertValidHeartbeat(inv);
  });

  it('leaves out a mount whose statfs does not answer in time, and does not ask it again while stuck', async () => {
    let calls = 0;
    const c = new InventoryCollector({
      procRoot: path.join(dir, 'proc'),
      osReleasePaths: [],
      system,
      statfsTimeoutMs: 20,
      statfs: (mount) => {
        if (mount !== '/mnt/nas') return Promise.resolve(usage[mount] ?? { bsize: 1, blocks: 0, bfree: 0 });
        calls++;
        return new Promise<FsUsage>(() => {}); // a hard NFS mount whose server is gone
      },
    });
    assert.ok(!(await c.collect()).storage.some((s) => s.mount === '/mnt/nas'));
    assert.ok(!(await c.collect()).storage.some((s) => s.mount === '/mnt/nas'));
    assert.equal(calls, 1);
  });
});

describe('parseOsRelease', () => {
  it('handles quoting as os-release(5) describes', () => {
    const m = parseOsRelease(`A="x \\"y\\" \\$z"\nB='single'\nC=plain\n# comment\nD=""\n`);
    assert.equal(m.get('A'), 'x "y" $z');
    assert.equal(m.get('B'), 'single');
    assert.equal(m.get('C'), 'plain');
    assert.equal(m.get('D'), '');
  });
});
