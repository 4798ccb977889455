import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { initPlanePki, isSignedBy, keyMatchesCert, loadPlanePki, planePkiPaths, PlanePkiExistsError, PlanePkiMissingError } from './index';

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('plane PKI files', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'plane-pki-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('initPlanePki writes the CA and the ingress certificate, keys 0600 in a 0700 directory', async () => {
    const paths = await initPlanePki(dataDir);
    assert.deepEqual(paths, {
      dir: join(dataDir, 'pki'),
      caCert: join(dataDir, 'pki/ca.crt'),
      caKey: join(dataDir, 'pki/ca.key'),
      ingressCert: join(dataDir, 'pki/ingress.crt'),
      ingressKey: join(dataDir, 'pki/ingress.key'),
      hostCrl: join(dataDir, 'pki/hosts.crl'),
    });
    assert.equal(await modeOf(paths.dir), 0o700);
    assert.equal(await modeOf(paths.caKey), 0o600);
    assert.equal(await modeOf(paths.ingressKey), 0o600);
    assert.equal(await modeOf(paths.caCert), 0o644);
    assert.equal(await modeOf(paths.hostCrl), 0o644);
    assert.match(await readFile(paths.hostCrl, 'utf8'), /^-----BEGIN X509 CRL-----/, 'an empty list of revoked host certificates');
    const pki = await loadPlanePki(dataDir);
    assert.equal(new X509Certificate(pki.ca.certPem).ca, true);
    assert.ok(keyMatchesCert(pki.ca.keyPem, pki.ca.certPem));
    assert.ok(keyMatchesCert(pki.ingress.keyPem, pki.ingress.certPem));
    assert.ok(isSignedBy(pki.ingress.certPem, pki.ca.certPem));
    const ingress = new X509Certificate(pki.ingress.certPem);
    assert.equal(ingress.checkHost('localhost'), 'localhost');
    assert.equal(ingress.checkIP('127.0.0.1'), '127.0.0.1');
  });

  it('every PEM file ends with a newline, so `cat ingress.crt ingress.key > haproxy.pem` gives two PEM blocks openssl reads', async () => {
    const paths = await initPlanePki(dataDir);
    for (const file of [paths.caCert, paths.caKey, paths.ingressCert, paths.ingressKey, paths.hostCrl]) {
      assert.match(await readFile(file, 'utf8'), /-----\n$/, `${file} ends with a newline`);
    }
    const combined = join(dataDir, 'haproxy.pem');
    await writeFile(combined, (await readFile(paths.ingressCert, 'utf8')) + (await readFile(paths.ingressKey, 'utf8')));
    assert.equal((await readFile(combined, 'utf8')).match(/^-----BEGIN [A-Z ]+-----$/gm)?.length, 2, 'each BEGIN line on a line of its own');
    const run = promisify(execFile);
    const cert = await run('openssl', ['x509', '-in', combined, '-noout', '-fingerprint', '-sha256']);
    assert.equal(cert.stdout.trim(), `sha256 Fingerprint=${new X509Certificate(await readFile(paths.ingressCert)).fingerprint256}`);
    const key = await run('openssl', ['pkey', '-in', combined, '-pubout']);
    assert.equal(key.stdout, new X509Certificate(await readFile(paths.ingressCert)).publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('initPlanePki puts the given names and addresses in the ingress certificate', async () => {
    await initPlanePki(dataDir, { ingressNames: ['plane.example', 'localhost'], ingressIps: ['10.1.2.3'] });
    const ingress = new X509Certificate((await loadPlanePki(dataDir)).ingress.certPem);
    assert.equal(ingress.checkHost('plane.example'), 'plane.example');
    assert.equal(ingress.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(ingress.checkIP('127.0.0.1'), undefined);
  });

  it('a second init keeps the CA unless forced', async () => {
    const paths = await initPlanePki(dataDir);
    const before = await readFile(paths.caCert, 'utf8');
    await assert.rejects(initPlanePki(dataDir), (err: unknown) => {
      assert.ok(err instanceof PlanePkiExistsError);
      assert.match(err.message, /a CA exists already at .*ca\.crt; replacing it would orphan every host it certified/);
      return true;
    });
    assert.equal(await readFile(paths.caCert, 'utf8'), before);
    await initPlanePki(dataDir, { force: true });
    assert.notEqual(await readFile(paths.caCert, 'utf8'), before);
  });

  it('bad names leave nothing behind', async () => {
    await assert.rejects(initPlanePki(dataDir, { ingressNames: ['bad name'] }), /not a DNS name/);
    await assert.rejects(stat(planePkiPaths(dataDir).dir), /ENOENT/);
  });

  it('loadPlanePki says to run `hostplane pki init` when there is no PKI', async () => {
    await assert.rejects(loadPlanePki(dataDir), (err: unknown) => {
      assert.ok(err instanceof PlanePkiMissingError);
      assert.match(err.message, /run `hostplane pki init`/);
      return true;
    });
  });
});
