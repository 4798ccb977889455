import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { HostRenewRequest, HostRenewResult } from '#contracts';
import { Logger } from '#logging';
import { certificateFacts, createCa, createHostKeyAndCsr, signHostCsr } from '#pki';
import { loadHostagentConfig } from './config/hostagent.config';
import { HostagentRuntime } from './hostagent.runtime';
import { hostCertificateFiles } from './registration';

const quiet = new Logger('test', 'error', { write: () => undefined });

describe('host agent runtime: certificate renewal', () => {
  test('stopping waits for a renewal under way to get its answer and put the new certificate in place', async (t) => {
    const root = await mkdtemp(`${tmpdir()}/runtime-renew-`);
    t.after(() => rm(root, { recursive: true, force: true }));
    const ca = await createCa({ commonName: 'test plane' });
    const files = hostCertificateFiles(root);
    await mkdir(files.dir, { recursive: true });
    const current = await createHostKeyAndCsr('h');
    const currentCert = await signHostCsr(ca, current.csrPem, 'h');
    await Promise.all([writeFile(files.key, current.keyPem), writeFile(files.cert, currentCert), writeFile(files.caCert, ca.certPem)]);

    // A plane that takes its time to answer a renewal.
    let asked!: () => void;
    const askedOnce = new Promise<void>((resolve) => (asked = resolve));
    const plane = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        asked();
        const request = JSON.parse(body) as HostRenewRequest;
        setTimeout(() => {
          void signHostCsr(ca, request.csr, 'h').then((certificate) => {
            const result: HostRenewResult = { hostId: 'h', certificate, caCertificate: ca.certPem, planeBrokerUser: 'plane' };
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
          });
        }, 300);
      });
    });
    await new Promise<void>((resolve) => plane.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => plane.close(() => resolve())));

    const config = loadHostagentConfig({ PF9_ROOT: root, PF9_JOIN_URL: `http://127.0.0.1:${(plane.address() as AddressInfo).port}`, PF9_CERT_RENEW_BEFORE_DAYS: '400' });
    const runtime = new HostagentRuntime(config, 'h', quiet);
    const renewing = runtime.renewNow();
    assert.equal(runtime.renewNow(), renewing, 'one look at a time');
    await askedOnce;
    await runtime.stop();
    const cert = await readFile(files.cert, 'utf8');
    assert.notEqual(certificateFacts(cert).serial, certificateFacts(currentCert).serial, 'renewed before stop() returned');
    assert.match(await runtime.metrics.registry.metrics(), /hostplane_hostagent_certificate_renewals_total\{outcome="renewed"\} 1/);
  });
});
