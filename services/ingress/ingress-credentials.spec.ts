import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createCrl, initPlanePki, loadPlanePki } from '#pki';
import { IngressCredentials } from './ingress-credentials';

describe('IngressCredentials: the plane CRL', () => {
  test('is used while it is there, refused when another key signed it (the loaded set stays), dropped when it is gone', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ingress-crl-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const paths = await initPlanePki(dataDir);
    const { ca } = await loadPlanePki(dataDir);
    const files = { certFile: paths.ingressCert, keyFile: paths.ingressKey, caFile: paths.caCert, crlFile: paths.hostCrl };
    const credentials = new IngressCredentials(files, { minVersion: 'TLSv1.2' });
    assert.ok(credentials.current.options.crl !== undefined, 'the empty CRL of pki init');

    // The same CA name, another key (pki init --force elsewhere): every host would be refused with it.
    const impostor = await createCa({ commonName: 'hostplane CA' });
    await writeFile(paths.hostCrl, await createCrl(impostor, []));
    const loaded = credentials.current;
    assert.throws(() => credentials.reloadIfChanged(), /is not a CRL signed by the CA/);
    assert.equal(credentials.current, loaded, 'the loaded set stays');
    assert.throws(() => new IngressCredentials(files, {}), /is not a CRL signed by the CA/, 'and an ingress does not start with it');

    const revoking = await createCrl(ca, [{ serial: '0abc', revokedAt: new Date() }]);
    await writeFile(paths.hostCrl, revoking);
    assert.equal(String(credentials.reloadIfChanged()?.options.crl), revoking);

    await rm(paths.hostCrl);
    const without = credentials.reloadIfChanged();
    assert.ok(without !== undefined && without.options.crl === undefined, 'no file, no CRL');
  });
});
