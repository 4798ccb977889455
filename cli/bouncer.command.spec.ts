import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { initPlanePki } from '#pki';
import { usage } from './cli';
import { runCliCollect } from './fake-role-store.testing';

const HOST = '9b2e4c1d-5f6a-4b7c-8d9e-0a1b2c3d4e5f';

describe('bouncer kubeconfig', () => {
  let dir: string;
  let caPem: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-bouncer-'));
    const pki = await initPlanePki(join(dir, 'plane'));
    caPem = await readFile(pki.caCert);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the webhook kubeconfig kube-apiserver needs, every field as Kubernetes documents it', async () => {
    const run = await runCliCollect(['bouncer', 'kubeconfig', '--host', HOST], { cwd: dir, env: { PF9_DATA_DIR: 'plane' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parse(run.stdout), {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'pf9-bouncer',
          cluster: {
            server: 'https://127.0.0.1:9443/authenticate',
            'certificate-authority-data': caPem.toString('base64'),
            'tls-server-name': `${HOST}.hosts.hostplane.internal`,
          },
        },
      ],
      users: [{ name: 'kube-apiserver', user: {} }],
      contexts: [{ name: 'webhook', context: { cluster: 'pf9-bouncer', user: 'kube-apiserver' } }],
      'current-context': 'webhook',
    });
    assert.match(run.stdout, /--authentication-token-webhook-version=v1/);
    assert.match(run.stdout, /--authentication-token-webhook-cache-ttl/);
    assert.equal(Buffer.from(String(parse(run.stdout).clusters[0].cluster['certificate-authority-data']), 'base64').toString(), caPem.toString(), 'the CA file exactly');
  });

  it('takes --port, --ca (relative to the working directory) and --data-dir; --json prints the same object', async () => {
    await writeFile(join(dir, 'ca-copy.crt'), caPem);
    const yaml = await runCliCollect(['bouncer', 'kubeconfig', '--host', HOST, '--port', '10443', '--ca', 'ca-copy.crt'], { cwd: dir });
    assert.equal(yaml.code, 0, yaml.stderr);
    const json = await runCliCollect(['bouncer', 'kubeconfig', '--host', HOST, '--port', '10443', '--data-dir', join(dir, 'plane'), '--json'], { cwd: '/' });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), parse(yaml.stdout));
    assert.equal(parse(yaml.stdout).clusters[0].cluster.server, 'https://127.0.0.1:10443/authenticate');
  });

  it('refuses what cannot make a working kubeconfig, and says why', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [[], 2, /--host is required/],
      [['--host', 'no.dots'], 2, /--host must be a host id/],
      [['--host', 'Upper_Case'], 1, /host id Upper_Case is not a DNS label/],
      [['--host', HOST, '--port', '0'], 2, /--port must be a port number/],
      [['--host', HOST, '--port', '9443x'], 2, /--port must be a port number/],
      [['--host', HOST, '--ca', 'missing.crt'], 1, /cannot read the plane's CA .*missing\.crt: ENOENT/],
      [['--host', HOST, '--ca', join('plane', 'pki', 'ingress.crt')], 1, /is not a CA certificate/],
      [['--host', HOST, '--ca', join('plane', 'pki', 'ca.key')], 1, /is not a CA certificate/],
    ];
    for (const [args, code, message] of cases) {
      const run = await runCliCollect(['bouncer', 'kubeconfig', ...args], { cwd: dir, env: { PF9_DATA_DIR: 'plane' } });
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
  });

  it('is in the usage', () => {
    assert.ok(usage().includes('\n  bouncer kubeconfig [--host ID] [--port N] [--ca FILE] [--data-dir DIR]\n      '));
  });
});
