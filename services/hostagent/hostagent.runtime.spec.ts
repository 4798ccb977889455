import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { HostRenewRequest, HostRenewResult } from '#contracts';
import { Logger } from '#logging';
import { certificateFacts, createCa, createHostKeyAndCsr, signHostCsr } from '#pki';
import { loadHostagentConfig } from './config/hostagent.config';
import { HostagentRuntime } from './hostagent.runtime';
import { removeTempFiles } from './crash-leftovers';
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

describe('host agent runtime: what a crash left behind', () => {
  test('temporary files and role folders that no installed role uses are removed at start; what is in use stays', async (t) => {
    const root = await mkdtemp(`${tmpdir()}/runtime-leftovers-`);
    t.after(() => rm(root, { recursive: true, force: true }));
    const put = async (rel: string, content = 'x'): Promise<void> => {
      await mkdir(dirname(join(root, rel)), { recursive: true });
      await writeFile(join(root, rel), content);
    };
    const installed = { web: { name: 'web', version: '1.0.0', sha256: 'a'.repeat(64), config: {}, generation: 1, state: 'applied' } };
    const desired = [{ name: 'web', version: '1.0.0', sha256: 'a'.repeat(64), config: {}, generation: 1 }];
    await put('var/lib/pf9/hostagent/state.json', JSON.stringify({ hostState: 'authorized', desiredGeneration: 1, desired, installed, failed: {} }));
    const kept = ['opt/pf9/roles/web/1.0.0/role.json', 'etc/pf9/host_id.conf'];
    const leftovers = [
      'etc/pf9/host_id.conf.4242.0f0e.tmp',
      'etc/pf9/certs/host.key.4242.a1b2c3.tmp',
      'var/lib/pf9/hostagent/state.json.tmp',
      'opt/pf9/roles/web/.1.1.0.partial-Ab12Cd/role.json',
      'opt/pf9/roles/web/1.1.0/role.json',
      'opt/pf9/roles/gone/2.0.0/bin/configure',
    ];
    for (const rel of [...kept, ...leftovers]) await put(rel);

    const config = loadHostagentConfig({ PF9_ROOT: root, AMQP_URL: 'amqp://guest:guest@127.0.0.1:1', PF9_CONVERGE_INTERVAL_S: '3600' });
    const runtime = new HostagentRuntime(config, 'h', quiet);
    await runtime.start();
    await runtime.stop();
    for (const rel of leftovers) assert.equal(await present(join(root, rel)), false, `${rel} removed`);
    assert.equal(await present(join(root, 'opt/pf9/roles/gone')), false, 'a role no longer installed goes whole');
    assert.equal(await present(join(root, 'opt/pf9/roles/web/.1.1.0.partial-Ab12Cd')), false);
    for (const rel of kept) assert.equal(await present(join(root, rel)), true, `${rel} kept`);
  });
});

describe('removeTempFiles', () => {
  test("a renewal's pending files are not temporary files: registration finishes them", async (t) => {
    const root = await mkdtemp(`${tmpdir()}/temp-files-`);
    t.after(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, 'etc/pf9/certs'), { recursive: true });
    for (const name of ['host.crt.next', 'host.key.next', 'host.crt.next.csr', 'host.key.1.ab.tmp']) await writeFile(join(root, 'etc/pf9/certs', name), 'x');
    assert.deepEqual(await removeTempFiles(root, quiet), [join(root, 'etc/pf9/certs/host.key.1.ab.tmp')]);
    for (const name of ['host.crt.next', 'host.key.next', 'host.crt.next.csr']) assert.equal(await present(join(root, 'etc/pf9/certs', name)), true, name);
  });
});

async function present(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
