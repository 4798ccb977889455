import 'reflect-metadata';
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createHostKeyAndCsr, signHostCsr, writeFileAtomic, type CertifiedKey } from '#pki';
import { tempDir } from '../../test/support/fixtures';
import { createTestCerts, type TestCerts } from '../../test/support/test-certs';
import { ServingCredentials } from './serving-credentials';

/** A host's key and certificate from the plane's CA, as registration writes them. */
async function hostPair(ca: CertifiedKey, hostId: string): Promise<{ keyPem: string; certPem: string }> {
  const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
  return { keyPem, certPem: await signHostCsr(ca, csrPem, hostId) };
}

describe('the certificate bouncer serves', () => {
  let ca: CertifiedKey;
  let old: TestCerts;
  const hostId = randomUUID();

  before(async () => {
    ca = await createCa({ commonName: 'plane CA' });
    old = await createTestCerts(hostId);
  });

  async function files(pair: { keyPem: string; certPem: string }): Promise<{ certFile: string; keyFile: string }> {
    const dir = await tempDir('bouncer-tls');
    const paths = { certFile: join(dir, 'host.crt'), keyFile: join(dir, 'host.key') };
    await writeFile(paths.certFile, pair.certPem);
    await writeFile(paths.keyFile, pair.keyPem, { mode: 0o600 });
    return paths;
  }

  test("is the host's own certificate, naming <hostId>.hosts.hostplane.internal", async () => {
    const pair = await hostPair(ca, hostId);
    const tls = new ServingCredentials(await files(pair)).current;
    assert.equal(tls.hostId, hostId);
    assert.equal(tls.dnsName, `${hostId}.hosts.hostplane.internal`);
    assert.match(tls.serial, /^[0-9a-f]{32}$/);
    assert.ok(tls.notAfter.getTime() > Date.now() + 300 * 86_400_000);
    assert.equal(tls.options.minVersion, 'TLSv1.2');
  });

  test('refuses, saying what to do, a certificate from before host certificates served TLS, another key, and no host certificate', async () => {
    const cases: Array<[{ certFile: string; keyFile: string }, RegExp]> = [
      [{ certFile: old.host.cert, keyFile: old.host.key }, new RegExp(`does not name ${hostId}\\.hosts\\.hostplane\\.internal: .*PF9_CERT_RENEW_BEFORE_DAYS`)],
      [{ certFile: (await files(await hostPair(ca, hostId))).certFile, keyFile: old.host.key }, /is not the private key of/],
      [{ certFile: old.server.cert, keyFile: old.server.key }, /names no host/],
      [{ certFile: join(old.dir, 'missing.crt'), keyFile: old.host.key }, /cannot read .*missing\.crt.*PF9_CERT_FILE/],
    ];
    for (const [paths, problem] of cases) assert.throws(() => new ServingCredentials(paths), problem);
  });

  test('refuses a host id that is no DNS label, and an expired certificate', async () => {
    assert.throws(() => new ServingCredentials({ certFile: '', keyFile: '' }), /cannot read/);
    const upper = await files(await hostPair(ca, 'Host-Upper'));
    assert.throws(() => new ServingCredentials(upper), /host id Host-Upper is not a DNS label/);
    const paths = await files(await hostPair(ca, hostId));
    assert.throws(() => new ServingCredentials(paths, () => Date.now() + 400 * 86_400_000), /expired at .*join-token create --host/);
  });

  test('takes a renewed certificate when the files change, and keeps the loaded one when the new files do not work', async () => {
    const paths = await files(await hostPair(ca, hostId));
    const credentials = new ServingCredentials(paths);
    const first = credentials.current.serial;
    assert.equal(credentials.reloadIfChanged(), undefined, 'nothing changed');

    // As the host agent renews: the key first, then the certificate, each by rename.
    const renewed = await hostPair(ca, hostId);
    await writeFileAtomic(paths.keyFile, renewed.keyPem, 0o600);
    assert.throws(() => credentials.reloadIfChanged(), /is not the private key of/, 'half way through a renewal');
    assert.equal(credentials.current.serial, first);
    await writeFileAtomic(paths.certFile, renewed.certPem, 0o644);
    assert.notEqual(credentials.reloadIfChanged()?.serial, first);
    assert.equal(credentials.current.serial, new ServingCredentials(paths).current.serial);

    const other = await hostPair(ca, randomUUID());
    await writeFileAtomic(paths.keyFile, other.keyPem, 0o600);
    await writeFileAtomic(paths.certFile, other.certPem, 0o644);
    assert.throws(() => credentials.reloadIfChanged(), /now names host .*restart bouncer/);
    await copyFile(old.host.cert, paths.certFile);
    assert.throws(() => credentials.reloadIfChanged());
    assert.equal(credentials.current.hostId, hostId);
  });
});
