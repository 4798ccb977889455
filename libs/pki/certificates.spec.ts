import 'reflect-metadata'; // before @peculiar/x509 (tsyringe)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { HOST_CERT_DNS_SUFFIX, HOST_CERT_URI_PREFIX } from '#contracts';
import {
  certificateFacts,
  certificateIsForCsr,
  createCa,
  createCrl,
  createHostKeyAndCsr,
  hostIdOfCert,
  isSignedBy,
  issueServerCert,
  keyMatchesCert,
  PkiError,
  signHostCsr,
  signRenewalProof,
  verifyRenewalProof,
  type CertifiedKey,
} from './index';

const DAY_MS = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Days between notBefore and notAfter, give or take the backdating. */
function validityDays(cert: X509Certificate): number {
  return (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
}

describe('pki certificates', () => {
  let ca: CertifiedKey;
  let caCert: X509Certificate;

  before(async () => {
    ca = await createCa({ commonName: 'test CA' });
    caCert = new X509Certificate(ca.certPem);
  });

  it('createCa makes a self-signed P-256 CA valid for ten years', () => {
    assert.equal(caCert.ca, true);
    assert.equal(caCert.subject, 'CN=test CA');
    assert.equal(caCert.issuer, 'CN=test CA');
    assert.ok(caCert.verify(caCert.publicKey), 'self-signed');
    assert.equal(caCert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(caCert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(Date.parse(caCert.validFrom) <= Date.now());
    assert.ok(Math.abs(validityDays(caCert) - 3650) < 1, caCert.validTo);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(keyMatchesCert(ca.keyPem, ca.certPem));
    const parsed = new x509.X509Certificate(ca.certPem);
    const usage = parsed.getExtension(x509.KeyUsagesExtension);
    assert.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(parsed.getExtension(x509.SubjectKeyIdentifierExtension), 'subjectKeyIdentifier');
  });

  it('createCa takes another validity and refuses an empty name', async () => {
    const short = new X509Certificate((await createCa({ commonName: 'x', validityDays: 10 })).certPem);
    assert.ok(Math.abs(validityDays(short) - 10) < 1);
    await assert.rejects(createCa({ commonName: ' ' }), PkiError);
    await assert.rejects(createCa({ commonName: 'x', validityDays: 0 }), /validityDays must be a positive whole number/);
  });

  it('issueServerCert makes a serverAuth certificate for its names, signed by the CA', async () => {
    const server = await issueServerCert(ca, { dnsNames: ['plane.example', 'localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    const cert = new X509Certificate(server.certPem);
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('plane.example'), 'plane.example');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    const spanDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
    assert.ok(spanDays <= 825 && spanDays > 824, `825 days in all, backdating included: ${spanDays}`);
    assert.ok(keyMatchesCert(server.keyPem, server.certPem));
    const aki = new x509.X509Certificate(server.certPem).getExtension(x509.AuthorityKeyIdentifierExtension);
    const ski = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension);
    assert.equal(aki?.keyId, ski?.keyId, 'authorityKeyIdentifier names the CA key');
  });

  it('issueServerCert refuses no names, bad names and bad addresses', async () => {
    await assert.rejects(issueServerCert(ca, { dnsNames: [] }), /at least one DNS name or IP address/);
    await assert.rejects(issueServerCert(ca, { dnsNames: ['bad name'] }), /"bad name" is not a DNS name/);
    await assert.rejects(issueServerCert(ca, { dnsNames: ['ok'], ipAddresses: ['300.1.1.1'] }), /"300.1.1.1" is not an IP address/);
    for (const name of [`h1.${HOST_CERT_DNS_SUFFIX}`, `*.${HOST_CERT_DNS_SUFFIX}`, HOST_CERT_DNS_SUFFIX.toUpperCase()]) {
      await assert.rejects(issueServerCert(ca, { dnsNames: ['plane.example', name] }), /which names hosts/, name);
    }
  });

  it('issueServerCert refuses a CA whose key is not its own, and a certificate that is not a CA', async () => {
    const other = await createCa({ commonName: 'other' });
    await assert.rejects(issueServerCert({ certPem: ca.certPem, keyPem: other.keyPem }, { dnsNames: ['a'] }), /does not belong to the CA certificate/);
    const leaf = await issueServerCert(ca, { dnsNames: ['leaf'] });
    await assert.rejects(issueServerCert(leaf, { dnsNames: ['a'] }), /is not a CA/);
  });

  it('createHostKeyAndCsr asks for CN=<hostId> and the host URI', async () => {
    const { keyPem, csrPem } = await createHostKeyAndCsr('host-a');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    assert.ok(await csr.verify());
    assert.equal(csr.subject, 'CN=host-a');
    const requested = csr.getExtension('2.5.29.17');
    assert.ok(requested, 'a subjectAltName in the extension request');
    const san = new x509.SubjectAlternativeNameExtension(requested.rawData);
    assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: `${HOST_CERT_URI_PREFIX}host-a` }]);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    await assert.rejects(createHostKeyAndCsr('no.dots'), /is not a host id/);
  });

  it('signHostCsr issues a clientAuth certificate naming the host, with a random serial', async () => {
    const { keyPem, csrPem } = await createHostKeyAndCsr('host-a');
    const certPem = await signHostCsr(ca, csrPem, 'host-a');
    const cert = new X509Certificate(certPem);
    assert.ok(cert.verify(caCert.publicKey));
    assert.equal(cert.ca, false);
    assert.equal(cert.subject, 'CN=host-a');
    assert.equal(cert.subjectAltName, `URI:${HOST_CERT_URI_PREFIX}host-a, DNS:host-a.${HOST_CERT_DNS_SUFFIX}`);
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH, SERVER_AUTH]);
    assert.ok(Math.abs(validityDays(cert) - 365) < 1);
    assert.ok(keyMatchesCert(keyPem, certPem), 'the certificate carries the CSR key');
    assert.ok(isSignedBy(certPem, ca.certPem));
    assert.equal(hostIdOfCert(certPem), 'host-a');
    assert.equal(hostIdOfCert(cert), 'host-a');
    const again = await signHostCsr(ca, csrPem, 'host-a', { validityDays: 30 });
    assert.notEqual(certificateFacts(again).serial, certificateFacts(certPem).serial);
    assert.ok(Math.abs(validityDays(new X509Certificate(again)) - 30) < 1);
    assert.match(certificateFacts(certPem).serial, /^[0-9a-f]{32}$/);
  });

  it('signHostCsr refuses a CSR for host A signed as host B', async () => {
    const { csrPem } = await createHostKeyAndCsr('host-a');
    await assert.rejects(signHostCsr(ca, csrPem, 'host-b'), (err: unknown) => {
      assert.ok(err instanceof PkiError);
      assert.equal(err.message, 'the certificate request names host "host-a", not "host-b"');
      return true;
    });
  });

  it('signHostCsr refuses a CSR whose URI names another host even when its CN is right', async () => {
    const csrPem = await rawCsr('host-b', [{ type: 'url', value: `${HOST_CERT_URI_PREFIX}host-a` }]);
    await assert.rejects(signHostCsr(ca, csrPem, 'host-b'), /names host "host-a", not "host-b"/);
  });

  it('signHostCsr names the host itself when the CSR names nobody', async () => {
    const csrPem = await rawCsr(null, []);
    const cert = new X509Certificate(await signHostCsr(ca, csrPem, 'host-c'));
    assert.equal(cert.subject, 'CN=host-c');
    assert.equal(cert.subjectAltName, `URI:${HOST_CERT_URI_PREFIX}host-c, DNS:host-c.${HOST_CERT_DNS_SUFFIX}`);
  });

  it('a host certificate serves TLS for <hostId>.hosts.hostplane.internal and no other name (pf9-bouncer)', async () => {
    const host = await createHostKeyAndCsr('4f1c0e2a-bouncer');
    const certPem = await signHostCsr(ca, host.csrPem, '4f1c0e2a-bouncer');
    const cert = new X509Certificate(certPem);
    assert.equal(cert.checkHost(`4f1c0e2a-bouncer.${HOST_CERT_DNS_SUFFIX}`), `4f1c0e2a-bouncer.${HOST_CERT_DNS_SUFFIX}`);
    assert.equal(cert.checkHost('4f1c0e2a-bouncer'), undefined, 'not its bare id (the CN is not a name once a DNS name is there)');
    assert.equal(cert.checkHost(`other.${HOST_CERT_DNS_SUFFIX}`), undefined);
    const server = tls.createServer({ key: host.keyPem, cert: certPem }, (socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const handshake = async (servername: string): Promise<string> => {
      const client = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.certPem });
      client.on('data', () => undefined);
      try {
        await once(client, 'secureConnect');
        return 'ok';
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? String(err);
      } finally {
        client.destroy();
      }
    };
    try {
      assert.equal(await handshake(`4f1c0e2a-bouncer.${HOST_CERT_DNS_SUFFIX}`), 'ok');
      assert.equal(await handshake(`other.${HOST_CERT_DNS_SUFFIX}`), 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.equal(await handshake('localhost'), 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
    // A host that registered as the plane's name does not pass for the plane: its CN is not compared.
    const impostor = await createHostKeyAndCsr('localhost');
    const impostorServer = tls.createServer({ key: impostor.keyPem, cert: await signHostCsr(ca, impostor.csrPem, 'localhost') }, (socket) => socket.end());
    impostorServer.listen(0, '127.0.0.1');
    await once(impostorServer, 'listening');
    const client = tls.connect({ host: '127.0.0.1', port: (impostorServer.address() as AddressInfo).port, servername: 'localhost', ca: ca.certPem });
    try {
      const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      client.destroy();
      impostorServer.close();
    }
  });

  it('a host id that is no DNS label gets no DNS name (no two hosts share one) and is no TLS server (its CN would be compared)', async () => {
    for (const hostId of ['Host-A', 'host_a', `h${'x'.repeat(63)}`, 'host-', 'Localhost']) {
      const { csrPem } = await createHostKeyAndCsr(hostId);
      const cert = new X509Certificate(await signHostCsr(ca, csrPem, hostId));
      assert.equal(cert.subjectAltName, `URI:${HOST_CERT_URI_PREFIX}${hostId}`, hostId);
      assert.deepEqual(cert.keyUsage, [CLIENT_AUTH], hostId);
    }
  });

  it('signHostCsr refuses a tampered CSR, a non-P-256 key, garbage and a bad host id', async () => {
    const { csrPem } = await createHostKeyAndCsr('host-a');
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const der = new Uint8Array(csr.rawData.slice(0));
    der[der.length - 5] ^= 0xff; // inside the signature
    const tampered = x509.PemConverter.encode(der.buffer, 'CERTIFICATE REQUEST');
    await assert.rejects(signHostCsr(ca, tampered, 'host-a'), /(not signed by the key it carries|cannot be parsed)/);
    await assert.rejects(signHostCsr(ca, await rsaCsr('host-a'), 'host-a'), /must be ECDSA P-256, not RSASSA-PKCS1-v1_5/);
    await assert.rejects(signHostCsr(ca, 'hello', 'host-a'), /must be one PEM "CERTIFICATE REQUEST"/);
    await assert.rejects(signHostCsr(ca, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'host-a'), /cannot be parsed/);
    await assert.rejects(signHostCsr(ca, csrPem, 'host a'), /is not a host id/);
  });

  it('hostIdOfCert falls back to the CN, and answers null for what is not a host certificate', async () => {
    const server = await issueServerCert(ca, { dnsNames: ['localhost'] });
    assert.equal(hostIdOfCert(server.certPem), 'localhost');
    const dotted = await issueServerCert(ca, { dnsNames: ['plane.example'] });
    assert.equal(hostIdOfCert(dotted.certPem), null, 'not a valid host id');
    assert.equal(hostIdOfCert('not a certificate'), null);
  });

  it('a TLS handshake with the server and host certificates authenticates the host', async () => {
    const server = await issueServerCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const host = await createHostKeyAndCsr('host-tls');
    const hostCert = await signHostCsr(ca, host.csrPem, 'host-tls');
    const tlsServer = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
    const peers: (string | null)[] = [];
    tlsServer.on('secureConnection', (socket) => {
      peers.push(hostIdOfCert(socket.getPeerCertificate()));
      socket.end('hello');
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const { port } = tlsServer.address() as AddressInfo;
    try {
      const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, key: host.keyPem, cert: hostCert });
      await once(client, 'secureConnect');
      assert.equal(client.authorized, true, String(client.authorizationError));
      assert.equal(hostIdOfCert(client.getPeerX509Certificate()!), 'localhost');
      let received = '';
      client.on('data', (chunk: Buffer) => (received += chunk.toString()));
      await once(client, 'end');
      assert.equal(received, 'hello');
      assert.deepEqual(peers, ['host-tls']);

      // A host certificate from another CA is refused by the server: no connection reaches it.
      const rogueCa = await createCa({ commonName: 'rogue' });
      const rogue = await createHostKeyAndCsr('host-tls');
      const rogueCert = await signHostCsr(rogueCa, rogue.csrPem, 'host-tls');
      const clientErrors: Error[] = [];
      tlsServer.on('tlsClientError', (err: Error) => clientErrors.push(err));
      const refused = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, key: rogue.keyPem, cert: rogueCert });
      refused.on('error', () => undefined);
      refused.on('data', () => assert.fail('the server must not talk to an unknown host'));
      await once(refused, 'close');
      assert.equal(clientErrors.length, 1);
      assert.deepEqual(peers, ['host-tls']);
    } finally {
      tlsServer.close();
    }
  });

  it("a renewal proof: the current key's signature over the new request, good for that request and that certificate only", async () => {
    const current = await createHostKeyAndCsr('host-1');
    const currentCert = await signHostCsr(ca, current.csrPem, 'host-1');
    const next = await createHostKeyAndCsr('host-1');
    const proof = signRenewalProof(current.keyPem, currentCert, next.csrPem);
    assert.equal(verifyRenewalProof(currentCert, next.csrPem, proof), true);
    const other = await createHostKeyAndCsr('host-1');
    assert.equal(verifyRenewalProof(currentCert, other.csrPem, proof), false, 'another request');
    assert.equal(verifyRenewalProof(currentCert, next.csrPem, signRenewalProof(next.keyPem, currentCert, next.csrPem)), false, 'signed by the new key, not the current one');
    const otherCert = await signHostCsr(ca, other.csrPem, 'host-1');
    assert.equal(verifyRenewalProof(otherCert, next.csrPem, proof), false, "another certificate's key");
    const sameKeyCert = await signHostCsr(ca, current.csrPem, 'host-1');
    assert.equal(verifyRenewalProof(sameKeyCert, next.csrPem, proof), false, 'another certificate (serial) of the same key');
    assert.equal(verifyRenewalProof(currentCert, next.csrPem, 'bm90IGEgc2lnbmF0dXJl'), false, 'not a signature');
    assert.equal(certificateIsForCsr(currentCert, current.csrPem), true);
    assert.equal(certificateIsForCsr(currentCert, next.csrPem), false);
  });

  it('createCrl lists revoked serials, signed by the CA: a TLS server given it refuses those certificates and no others', async () => {
    const server = await issueServerCert(ca, { dnsNames: ['localhost'] });
    const revoked = await createHostKeyAndCsr('host-r');
    const revokedCert = await signHostCsr(ca, revoked.csrPem, 'host-r');
    const kept = await createHostKeyAndCsr('host-k');
    const keptCert = await signHostCsr(ca, kept.csrPem, 'host-k');
    const crl = await createCrl(ca, [{ serial: certificateFacts(revokedCert).serial, revokedAt: new Date() }]);
    assert.match(crl, /^-----BEGIN X509 CRL-----/);
    const verdicts: Array<string | null> = [];
    const tlsServer = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: ca.certPem, crl, requestCert: true, rejectUnauthorized: false }, (socket) => {
      verdicts.push(socket.authorized ? null : String(socket.authorizationError));
      socket.end();
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const port = (tlsServer.address() as AddressInfo).port;
      for (const [key, cert] of [[revoked.keyPem, revokedCert], [kept.keyPem, keptCert]]) {
        const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, key, cert });
        client.on('error', () => undefined);
        client.resume();
        await once(client, 'close');
      }
    } finally {
      tlsServer.close();
    }
    assert.deepEqual(verdicts, ['CERT_REVOKED', null]);
    const empty = await createCrl(ca, []);
    assert.match(empty, /^-----BEGIN X509 CRL-----/);
  });

  describe('with openssl', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pki-openssl-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("clocks differ: a verifier whose clock runs hours behind the plane's accepts the CA, the certificates and the CRL", async () => {
      const host = await createHostKeyAndCsr('host-skew');
      const hostCert = await signHostCsr(ca, host.csrPem, 'host-skew');
      const server = await issueServerCert(ca, { dnsNames: ['localhost'] });
      await writeFile(join(dir, 'skew-ca.crt'), ca.certPem);
      await writeFile(join(dir, 'skew-host.crt'), hostCert);
      await writeFile(join(dir, 'skew-server.crt'), server.certPem);
      await writeFile(join(dir, 'skew.crl'), await createCrl(ca, []));
      const run = promisify(execFile);
      const hour = 3600;
      const now = Math.floor(Date.now() / 1000);
      for (const behind of [1 * hour, 12 * hour]) {
        // -crl_check: the CRL's thisUpdate must not lie in the verifier's future either.
        const ok = await run('openssl', ['verify', '-attime', String(now - behind), '-crl_check', '-CRLfile', join(dir, 'skew.crl'), '-CAfile', join(dir, 'skew-ca.crt'), join(dir, 'skew-host.crt'), join(dir, 'skew-server.crt')]);
        assert.match(ok.stdout, /skew-host\.crt: OK\n.*skew-server\.crt: OK/s, `${behind / hour} h behind`);
      }
      for (const pem of [ca.certPem, hostCert, server.certPem]) {
        assert.ok(Date.parse(new X509Certificate(pem).validFrom) <= Date.now() - 12 * hour * 1000, 'notBefore at least 12 hours back');
      }
      const span = (pem: string): number => (Date.parse(new X509Certificate(pem).validTo) - Date.parse(new X509Certificate(pem).validFrom)) / DAY_MS;
      assert.ok(span(server.certPem) <= 825, `the server certificate spans ${span(server.certPem)} days: Apple's limit is 825, backdating included`);
    });

    it('openssl verify accepts the host and server certificates and checks their purposes and names', async () => {
      const host = await createHostKeyAndCsr('host-ossl');
      await writeFile(join(dir, 'ca.crt'), ca.certPem);
      await writeFile(join(dir, 'host.crt'), await signHostCsr(ca, host.csrPem, 'host-ossl'));
      await writeFile(join(dir, 'server.crt'), (await issueServerCert(ca, { dnsNames: ['localhost'] })).certPem);
      const run = promisify(execFile);
      const ok = await run('/usr/bin/openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'host.crt'), join(dir, 'server.crt')]);
      assert.match(ok.stdout, /host\.crt: OK/);
      assert.match(ok.stdout, /server\.crt: OK/);
      await run('/usr/bin/openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), join(dir, 'host.crt')]);
      await run('/usr/bin/openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt')]);
      // A host certificate serves TLS for its own DNS name (pf9-bouncer), never for the plane's.
      const asServer = (name: string) => run('/usr/bin/openssl', ['verify', '-purpose', 'sslserver', '-verify_hostname', name, '-CAfile', join(dir, 'ca.crt'), join(dir, 'host.crt')]);
      await asServer(`host-ossl.${HOST_CERT_DNS_SUFFIX}`);
      await assert.rejects(asServer('localhost'), /hostname mismatch/);
      await assert.rejects(asServer(`other.${HOST_CERT_DNS_SUFFIX}`), /hostname mismatch/);
      await assert.rejects(run('/usr/bin/openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt')]), /unsuitable certificate purpose/);
    });
  });
});

/** A P-256 CSR with any subject and SANs, for requests our own agent would never make. */
async function rawCsr(commonName: string | null, names: x509.JsonGeneralNames): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: commonName === null ? [] : [{ CN: [commonName] }],
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return csr.toString('pem');
}

async function rsaCsr(commonName: string): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), algorithm, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), algorithm, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [commonName] }], keys, signingAlgorithm: algorithm });
  return csr.toString('pem');
}
