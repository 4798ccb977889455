import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeConfigError } from './node-config';
import { loadNodeConfig, parseNodeConfig } from './node-config.files';

const DEFAULTS = { phasesDir: '/opt/phases', etcdBackupDir: '/root/etc/pf9/etcd-backup' };

function parse(...texts: string[]) {
  return parseNodeConfig(
    texts.map((text, i) => ({ file: `/etc/pf9/nodelet/${i}.yaml`, text })),
    DEFAULTS,
  );
}

function problems(...texts: string[]): string {
  try {
    parse(...texts);
  } catch (err) {
    assert.ok(err instanceof NodeConfigError);
    return err.message;
  }
  assert.fail('expected the configuration to be refused');
}

describe('nodelet configuration (etc/pf9/nodelet/*.yaml)', () => {
  test('an empty configuration is ROLE none and KUBE_SERVICE_STATE ignore, with Platform9 defaults', () => {
    const c = parse();
    assert.equal(c.role, 'none');
    assert.equal(c.kubeServiceState, 'ignore');
    assert.equal(c.fullRetryCount, 10);
    assert.equal(c.phaseRetry, 3);
    assert.equal(c.loopIntervalS, 60);
    assert.equal(c.useCgroups, true);
    assert.equal(c.cpuLimit, 40);
    assert.equal(c.statusTimeoutS, 60);
    assert.equal(c.phasesDir, '/opt/phases');
    assert.deepEqual(c.etcdBackup, { enabled: false, endpoint: 'http://127.0.0.1:2379', intervalMins: 1440, dailyAt: null, dir: '/root/etc/pf9/etcd-backup', keep: 3 });
  });

  test('files merge in sorted order (later wins); unknown keys pass through to kube.env', () => {
    const c = parse('ROLE: worker\nCLUSTER_ID: one\nK8S_API_PORT: 443\n', 'ROLE: master\nKUBE_SERVICE_STATE: true\nLOOP_INTERVAL: "5"\n');
    assert.equal(c.role, 'master');
    assert.equal(c.clusterId, 'one');
    assert.equal(c.kubeServiceState, 'true');
    assert.equal(c.loopIntervalS, 5);
    assert.equal(c.env.K8S_API_PORT, '443');
    assert.equal(c.env.ROLE, 'master');
    assert.deepEqual(Object.keys(c.env), [...Object.keys(c.env)].sort());
  });

  test('loadNodeConfig reads *.yaml and *.yml in file-name order and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodelet-config-'));
    await writeFile(join(dir, '20-b.yml'), 'CLUSTER_ID: b\n');
    await writeFile(join(dir, '10-a.yaml'), 'CLUSTER_ID: a\nROLE: worker\n');
    await writeFile(join(dir, '30-c.yaml.bak'), 'CLUSTER_ID: c\n');
    await writeFile(join(dir, '.10-a.yaml.1234.tmp'), 'CLUSTER_ID: tmp\n');
    await mkdir(join(dir, '40-dir.yaml'));
    const c = await loadNodeConfig(dir, DEFAULTS);
    assert.equal(c.clusterId, 'b');
    assert.equal(c.role, 'worker');
    assert.deepEqual(c.files, [join(dir, '10-a.yaml'), join(dir, '20-b.yml')]);
    assert.equal((await loadNodeConfig(join(dir, 'absent'), DEFAULTS)).role, 'none', 'no folder: an empty configuration');
  });

  test('a bad value names the file, the key and what was expected', () => {
    assert.match(problems('ROLE: master\n', 'LOOP_INTERVAL: soon\n'), /\/etc\/pf9\/nodelet\/1\.yaml: LOOP_INTERVAL: expected a number of seconds >= 1, got "soon"/);
    assert.match(problems('LOOP_INTERVAL: 0.5\n'), /LOOP_INTERVAL: expected a number of seconds >= 1/);
    assert.match(problems('ROLE: boss\n'), /0\.yaml: ROLE: expected one of master, worker, none, got "boss"/);
    assert.match(problems('KUBE_SERVICE_STATE: maybe\n'), /KUBE_SERVICE_STATE: expected one of true, false, ignore/);
    assert.match(problems('FULL_RETRY_COUNT: 0\n'), /FULL_RETRY_COUNT: expected an integer >= 1/);
    assert.match(problems('PHASE_RETRY: 1.5\n'), /PHASE_RETRY: expected an integer >= 1/);
    assert.match(problems('USE_CGROUPS: yes\n'), /USE_CGROUPS: expected true or false/);
    assert.match(problems('PHASES_DIR: phases\n'), /PHASES_DIR: expected an absolute path/);
    assert.match(problems('STATUS_TIMEOUT: 0\n'), /STATUS_TIMEOUT: expected a number of seconds > 0/);
    assert.match(problems('ETCD_BACKUP_DAILY_AT: "25:00"\n'), /ETCD_BACKUP_DAILY_AT: expected a time of day as HH:MM/);
    assert.match(problems('ETCD_BACKUP_INTERVAL_MINS: 0\n'), /ETCD_BACKUP_INTERVAL_MINS: expected an integer number of minutes >= 1/);
    assert.match(problems('ETCD_BACKUP_ENDPOINT: http://a:2379,http://b:2379\n'), /ETCD_BACKUP_ENDPOINT: expected one http/);
    assert.match(problems('ETCD_BACKUP_KEEP: 0\n'), /ETCD_BACKUP_KEEP: expected an integer >= 1/);
  });

  test('MASTER_VIP_*: the router id is 1 to 255, and an enabled VIP needs its interface, router id and address', () => {
    assert.match(problems('MASTER_VIP_VROUTER_ID: 256\n'), /MASTER_VIP_VROUTER_ID: expected an integer from 1 to 255/);
    assert.match(problems('MASTER_VIP_VROUTER_ID: 0\n'), /MASTER_VIP_VROUTER_ID: expected an integer from 1 to 255/);
    assert.match(problems('MASTER_VIP_IFACE: "eth0; rm -rf /"\n'), /MASTER_VIP_IFACE: expected a network interface name/);
    assert.match(problems('MASTER_IP: 10.0.0\n'), /MASTER_IP: expected an IPv4 or IPv6 address/);
    const missing = problems('MASTER_VIP_ENABLED: true\n');
    assert.match(missing, /MASTER_VIP_IFACE: expected an interface name, since MASTER_VIP_ENABLED is true/);
    assert.match(missing, /MASTER_VIP_VROUTER_ID: expected an integer from 1 to 255, since MASTER_VIP_ENABLED is true/);
    assert.match(missing, /MASTER_IP: expected the virtual IP address/);
    const c = parse('MASTER_VIP_ENABLED: true\nMASTER_VIP_IFACE: eth0\nMASTER_VIP_VROUTER_ID: 51\nMASTER_IP: 10.0.0.100\n');
    assert.deepEqual(c.vip, { enabled: true, iface: 'eth0', vrouterId: 51, masterIp: '10.0.0.100', priority: 100 });
  });

  test('broken YAML, a list, nested values, duplicate keys, control characters and reserved keys are refused', () => {
    assert.match(problems('ROLE: [master\n'), /0\.yaml: expected valid YAML, got .*line/);
    assert.match(problems('- ROLE\n'), /expected a mapping of KEY: value at the top level, got a list/);
    assert.match(problems('ETCD_ENV: {a: 1}\n'), /ETCD_ENV: expected a string, number or boolean, got object/);
    assert.match(problems('ROLE: master\nROLE: worker\n'), /expected valid YAML/);
    assert.match(problems('NOTE: "a\\nb"\n'), /NOTE: expected a single line without control characters/);
    assert.match(problems('PATH: /tmp\n'), /PATH: expected a key nodelet does not set itself/);
    assert.match(problems('NODELET_PHASE: x\n'), /NODELET_PHASE: expected a key nodelet does not set itself/);
    assert.match(problems('bad-key: 1\n'), /bad-key: expected a key made of letters, digits and _/);
  });

  test('CPU_LIMIT out of (0, 100] is not refused here: the status checks run unconfined and say so', () => {
    assert.equal(parse('CPU_LIMIT: 250\n').cpuLimit, 250);
    assert.equal(parse('CPU_LIMIT: 0\n').cpuLimit, 0);
  });

  test('equal configurations have equal digests; a change of any value changes it', () => {
    assert.equal(parse('ROLE: master\n').digest, parse('ROLE: "master"\n').digest);
    assert.notEqual(parse('ROLE: master\n').digest, parse('ROLE: master\nX: 1\n').digest);
  });
});
