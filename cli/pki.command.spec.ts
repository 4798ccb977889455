import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { usage } from './cli';
import { runCliCollect } from './fake-role-store.testing';

describe('pki commands', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-pki-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pki init writes the PKI under --data-dir and prints the paths', async () => {
    const run = await runCliCollect(['pki', 'init', '--data-dir', 'plane'], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const pki = join(dir, 'plane', 'pki');
    assert.equal(
      run.stdout,
      [
        `CA certificate:       ${pki}/ca.crt`,
        `CA key:               ${pki}/ca.key`,
        `Ingress certificate:  ${pki}/ingress.crt`,
        `Ingress key:          ${pki}/ingress.key`,
        '',
      ].join('\n'),
    );
    assert.equal((await stat(join(pki, 'ca.key'))).mode & 0o777, 0o600);
    const ingress = new X509Certificate(await readFile(join(pki, 'ingress.crt')));
    assert.equal(ingress.checkHost('localhost'), 'localhost');
    assert.equal(ingress.checkIP('127.0.0.1'), '127.0.0.1');
  });

  it('takes the data directory from PF9_DATA_DIR, else ./.data/plane', async () => {
    const fromEnv = await runCliCollect(['pki', 'init', '--json'], { cwd: dir, env: { PF9_DATA_DIR: 'elsewhere' } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(JSON.parse(fromEnv.stdout).caCert, join(dir, 'elsewhere', 'pki', 'ca.crt'));
    const byDefault = await runCliCollect(['pki', 'init', '--json'], { cwd: dir });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.deepEqual(JSON.parse(byDefault.stdout), {
      dir: join(dir, '.data/plane/pki'),
      caCert: join(dir, '.data/plane/pki/ca.crt'),
      caKey: join(dir, '.data/plane/pki/ca.key'),
      ingressCert: join(dir, '.data/plane/pki/ingress.crt'),
      ingressKey: join(dir, '.data/plane/pki/ingress.key'),
      hostCrl: join(dir, '.data/plane/pki/hosts.crl'),
    });
  });

  it('--name and --ip may be repeated and replace the defaults', async () => {
    const run = await runCliCollect(['pki', 'init', '--data-dir', dir, '--name', 'plane.example', '--name', 'du.example', '--ip', '10.0.0.1', '--ip', '::1'], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const ingress = new X509Certificate(await readFile(join(dir, 'pki', 'ingress.crt')));
    assert.equal(ingress.checkHost('plane.example'), 'plane.example');
    assert.equal(ingress.checkHost('du.example'), 'du.example');
    assert.equal(ingress.checkHost('localhost'), undefined);
    assert.equal(ingress.checkIP('10.0.0.1'), '10.0.0.1');
    assert.equal(ingress.checkIP('::1'), '::1');
  });

  it('a second pki init refuses to replace the CA unless --force', async () => {
    assert.equal((await runCliCollect(['pki', 'init', '--data-dir', dir])).code, 0);
    const ca = await readFile(join(dir, 'pki', 'ca.crt'), 'utf8');
    const again = await runCliCollect(['pki', 'init', '--data-dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: a CA exists already at .*ca\.crt; replacing it would orphan every host it certified\. Pass --force/);
    assert.equal(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'), ca);
    const forced = await runCliCollect(['pki', 'init', '--data-dir', dir, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'), ca);
  });

  it('a bad --ip is a usage error, a bad --name a failure; neither writes anything', async () => {
    const ip = await runCliCollect(['pki', 'init', '--data-dir', dir, '--ip', 'localhost']);
    assert.equal(ip.code, 2);
    assert.match(ip.stderr, /^error: --ip must be an IP address, got "localhost"\n/);
    const name = await runCliCollect(['pki', 'init', '--data-dir', dir, '--name', 'not a name']);
    assert.equal(name.code, 1);
    assert.equal(name.stderr, 'error: "not a name" is not a DNS name\n');
    await assert.rejects(stat(join(dir, 'pki')), /ENOENT/);
  });

  it('is in the usage, with its repeatable options', () => {
    assert.ok(usage().includes('\n  pki init [--data-dir DIR] [--name DNS]... [--ip IP]... [--force]\n      '), usage());
  });
});
