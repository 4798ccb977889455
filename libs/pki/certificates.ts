import 'reflect-metadata'; // @peculiar/x509 resolves its parsers through tsyringe, which needs it first
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { HOST_CERT_DNS_SUFFIX, HOST_CERT_URI_PREFIX, HOST_ID_PATTERN, hostDnsName } from '#contracts';

// The library signs through WebCrypto; Node's implementation is the one provider we use.
x509.cryptoProvider.set(webcrypto);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Certificates and the CRL start this far in the past, so that a machine whose clock lags the
 * plane's (a host, or an ingress on another machine than the role store) still accepts them:
 * a day covers a clock kept in local time instead of UTC, the commonest error of hours.
 */
export const CERT_BACKDATE_MS = 24 * 60 * 60 * 1000;
/** The longest span (notBefore to notAfter, backdating included) that Apple's rules accept for a TLS server certificate. */
const MAX_SERVER_SPAN_DAYS = 825;
const MAX_CSR_PEM_CHARS = 16 * 1024;
/** id-ce-subjectAltName: a CSR finds its extensions by OID only. */
const SUBJECT_ALT_NAME_OID = '2.5.29.17';
/** DNS names as they may appear in a certificate: labels of letters, digits and "-", a leading "*." allowed. */
const DNS_NAME_PATTERN = /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface CertifiedKey {
  certPem: string;
  keyPem: string;
}

/** A key or certificate that cannot be made or used as asked; the message says why. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
}

export interface CreateCaOptions {
  commonName: string;
  /** Default 3650 (ten years). */
  validityDays?: number;
}

export interface ServerCertOptions {
  dnsNames: string[];
  ipAddresses?: string[];
  /** Default 825, the longest that Apple's and browsers' rules accept (the span never exceeds it, backdating included). */
  validityDays?: number;
}

export interface HostCertOptions {
  /** Default 365. */
  validityDays?: number;
}

/** A self-signed CA (ECDSA P-256, SHA-256) that may sign end-entity certificates only. */
export async function createCa(options: CreateCaOptions): Promise<CertifiedKey> {
  const commonName = options.commonName.trim();
  if (commonName === '') throw new PkiError('the CA needs a common name');
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(options.validityDays, 3650);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemText(cert.toString('pem')), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** A TLS server certificate (serverAuth) for the given DNS names and IP addresses, signed by `ca`. */
export async function issueServerCert(ca: CertifiedKey, options: ServerCertOptions): Promise<CertifiedKey> {
  const dnsNames = options.dnsNames.map((name) => name.trim().toLowerCase());
  const ipAddresses = (options.ipAddresses ?? []).map((ip) => ip.trim());
  for (const name of dnsNames) if (!DNS_NAME_PATTERN.test(name) || name.length > 253) throw new PkiError(`"${name}" is not a DNS name`);
  // Those names are the hosts' own (pf9-bouncer's): another certificate of the CA must not carry one.
  const hostName = dnsNames.find((name) => name === HOST_CERT_DNS_SUFFIX || name.endsWith(`.${HOST_CERT_DNS_SUFFIX}`));
  if (hostName !== undefined) throw new PkiError(`"${hostName}" is under ${HOST_CERT_DNS_SUFFIX}, which names hosts`);
  for (const ip of ipAddresses) if (isIP(ip) === 0) throw new PkiError(`"${ip}" is not an IP address`);
  if (dnsNames.length + ipAddresses.length === 0) throw new PkiError('a server certificate needs at least one DNS name or IP address');
  const issuer = await loadCa(ca);
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(options.validityDays, MAX_SERVER_SPAN_DAYS, MAX_SERVER_SPAN_DAYS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [dnsNames[0] ?? ipAddresses[0]] }],
    issuer: issuer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey),
    ],
  });
  return { certPem: pemText(cert.toString('pem')), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** A host's own key and its certificate request: CN=<hostId>, URI SAN urn:pf9:host:<hostId>. The key stays on the host. */
export async function createHostKeyAndCsr(hostId: string): Promise<{ keyPem: string; csrPem: string }> {
  checkHostId(hostId);
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [hostId] }],
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: hostUri(hostId) }])],
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), csrPem: pemText(csr.toString('pem')) };
}

/**
 * Signs a host's CSR as `hostId`: the certificate's CN and URI SAN are the id given here,
 * never what the request asks for, and a request that names another host is refused.
 * The result is a client certificate (clientAuth) with a random serial, and a server one
 * (serverAuth) for the host's DNS name <hostId>.hosts.hostplane.internal, which pf9-bouncer
 * serves kube-apiserver with (a host id that is no DNS label gets neither).
 */
export async function signHostCsr(ca: CertifiedKey, csrPem: string, hostId: string, options: HostCertOptions = {}): Promise<string> {
  checkHostId(hostId);
  const csr = parseCsr(csrPem);
  if (!(await csr.verify())) throw new PkiError('the certificate request is not signed by the key it carries');
  checkCsrKey(csr);
  const claimed = namesOfCsr(csr);
  const other = claimed.find((name) => name !== hostId);
  if (other !== undefined) throw new PkiError(`the certificate request names host "${other}", not "${hostId}"`);
  const issuer = await loadCa(ca);
  const { notBefore, notAfter } = validity(options.validityDays, 365);
  const dnsName = hostDnsName(hostId);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [hostId] }],
    issuer: issuer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // serverAuth only with the DNS name: without one, TLS clients would compare the CN (the bare host id).
      new x509.ExtendedKeyUsageExtension(dnsName === null ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: hostUri(hostId) }, ...(dnsName === null ? [] : [{ type: 'dns' as const, value: dnsName }])]),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey),
    ],
  });
  return pemText(cert.toString('pem'));
}

/** Something that holds a DER certificate: node:crypto's X509Certificate, or what TLSSocket.getPeerCertificate() answers. */
export interface DerCertificateHolder {
  readonly raw: Uint8Array;
}

/** The host a certificate names: its urn:pf9:host: URI SAN, else its CN; null when neither is a valid host id. */
export function hostIdOfCert(cert: string | NodeX509Certificate | DerCertificateHolder): string | null {
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(typeof cert === 'string' ? cert : toArrayBuffer(cert.raw));
  } catch {
    return null;
  }
  const fromUri = hostUrisOf(parsed.getExtension(x509.SubjectAlternativeNameExtension));
  const candidate = fromUri.length > 0 ? fromUri[0] : parsed.subjectName.getField('CN')[0];
  return candidate !== undefined && HOST_ID_PATTERN.test(candidate) ? candidate : null;
}

/** Facts about a certificate that callers check: serial, validity, and whether a private key belongs to it. */
export interface CertificateFacts {
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export function certificateFacts(certPem: string): CertificateFacts {
  const cert = parseNodeCert(certPem);
  return { serial: cert.serialNumber.toLowerCase(), notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** True when `keyPem` is the private key of the certificate `certPem`. */
export function keyMatchesCert(keyPem: string, certPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = parseNodeCert(certPem).publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

/**
 * A host's proof, for renewal, that it holds the key of its current certificate: that key's
 * signature (ECDSA P-256, SHA-256, DER, base64) over a renewal statement naming the current
 * certificate's serial and the new certificate request exactly as sent. The request carries
 * the host id and the new key, so the proof is good for nothing else.
 */
export function signRenewalProof(currentKeyPem: string, currentCertPem: string, csrPem: string): string {
  return sign('sha256', renewalStatement(currentCertPem, csrPem), createPrivateKey(currentKeyPem)).toString('base64');
}

/** True when `proof` is the signature of `certPem`'s key over the renewal statement for `csrPem` (signRenewalProof). */
export function verifyRenewalProof(certPem: string, csrPem: string, proof: string): boolean {
  try {
    return verify('sha256', renewalStatement(certPem, csrPem), parseNodeCert(certPem).publicKey, Buffer.from(proof, 'base64'));
  } catch {
    return false;
  }
}

function renewalStatement(currentCertPem: string, csrPem: string): Buffer {
  return Buffer.from(`hostplane certificate renewal\nserial ${certificateFacts(currentCertPem).serial}\n${csrPem}`, 'utf8');
}

/** True when the certificate `certPem` is for the key of the certificate request `csrPem`. */
export function certificateIsForCsr(certPem: string, csrPem: string): boolean {
  try {
    const fromCsr = Buffer.from(parseCsr(csrPem).publicKey.rawData);
    const fromCert = parseNodeCert(certPem).publicKey.export({ type: 'spki', format: 'der' });
    return fromCsr.equals(fromCert);
  } catch {
    return false;
  }
}

/**
 * Why a certificate was revoked, as the CRL entry's reasonCode says it (RFC 5280): replaced
 * by a newer one of the same holder (a renewal, a new registration), or its holder gone (a
 * decommissioned host), whose open connections must go with it.
 */
export type RevocationReason = 'superseded' | 'cessationOfOperation';

/** A certificate the CA withdrew before it expired. */
export interface RevokedCertificate {
  /** Hexadecimal, as certificateFacts answers it. */
  serial: string;
  revokedAt: Date;
  /** Absent: no reasonCode in the entry (unspecified). */
  reason?: RevocationReason;
}

/**
 * A certificate revocation list (PEM) signed by `ca`, listing `revoked`. It is valid until
 * the CA itself expires: whoever serves it replaces the file when the list changes, and an
 * ingress must not lock every host out because the plane did not rewrite it in time.
 */
export async function createCrl(ca: CertifiedKey, revoked: readonly RevokedCertificate[], now: Date = new Date()): Promise<string> {
  const issuer = await loadCa(ca);
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate: new Date(now.getTime() - CERT_BACKDATE_MS),
    nextUpdate: issuer.cert.notAfter,
    entries: revoked.map((entry) => ({
      serialNumber: entry.serial,
      revocationDate: entry.revokedAt,
      ...(entry.reason !== undefined ? { reason: x509.X509CrlReason[entry.reason] } : {}),
    })),
    signingKey: issuer.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey)],
  });
  // OpenSSL (and so node, HAProxy, nginx) reads CRLs under this label only.
  return pemText(x509.PemConverter.encode(crl.rawData, 'X509 CRL'));
}

/**
 * PEM text as files hold it: ending with a newline, so that files put one after the other
 * (`cat ingress.crt ingress.key > haproxy.pem`) keep every BEGIN line on a line of its own.
 */
export function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** True when `certPem` was signed by the CA certificate `caCertPem`. */
export function isSignedBy(certPem: string, caCertPem: string): boolean {
  try {
    const cert = parseNodeCert(certPem);
    const ca = parseNodeCert(caCertPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function hostUri(hostId: string): string {
  return `${HOST_CERT_URI_PREFIX}${hostId}`;
}

function checkHostId(hostId: string): void {
  if (!HOST_ID_PATTERN.test(hostId)) throw new PkiError(`"${hostId}" is not a host id (${HOST_ID_PATTERN})`);
}

function parseCsr(csrPem: string): x509.Pkcs10CertificateRequest {
  if (csrPem.length > MAX_CSR_PEM_CHARS || !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new PkiError('the certificate request must be one PEM "CERTIFICATE REQUEST"');
  }
  try {
    return new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new PkiError(`the certificate request cannot be parsed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Hosts make P-256 keys; anything else was not made by our agent. */
function checkCsrKey(csr: x509.Pkcs10CertificateRequest): void {
  const algorithm = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new PkiError(`the certificate request's key must be ECDSA P-256, not ${algorithm.name}${algorithm.namedCurve ? ` ${algorithm.namedCurve}` : ''}`);
  }
}

/** Every host id a CSR claims: its CNs and its urn:pf9:host: URIs. */
function namesOfCsr(csr: x509.Pkcs10CertificateRequest): string[] {
  const sanExtension = csr.getExtension(SUBJECT_ALT_NAME_OID);
  const san = sanExtension === null ? null : new x509.SubjectAlternativeNameExtension(sanExtension.rawData);
  return [...csr.subjectName.getField('CN'), ...hostUrisOf(san)];
}

function hostUrisOf(san: x509.SubjectAlternativeNameExtension | null): string[] {
  if (san === null) return [];
  return san.names.items.filter((n) => n.type === 'url' && n.value.startsWith(HOST_CERT_URI_PREFIX)).map((n) => n.value.slice(HOST_CERT_URI_PREFIX.length));
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return pemText(x509.PemConverter.encode(toArrayBuffer(der), 'PRIVATE KEY'));
}

async function loadCa(ca: CertifiedKey): Promise<{ cert: x509.X509Certificate; key: webcrypto.CryptoKey }> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(ca.certPem);
  } catch (err) {
    throw new PkiError(`the CA certificate cannot be parsed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca) throw new PkiError('the CA certificate is not a CA (basicConstraints)');
  let key: webcrypto.CryptoKey;
  try {
    const der = createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' });
    key = await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
  } catch (err) {
    throw new PkiError(`the CA key is not an ECDSA P-256 private key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!keyMatchesCert(ca.keyPem, ca.certPem)) throw new PkiError('the CA key does not belong to the CA certificate');
  return { cert, key };
}

/** From CERT_BACKDATE_MS ago to `days` from now; no longer than `maxSpanDays` in all, when given. */
function validity(days: number | undefined, fallback: number, maxSpanDays?: number): { notBefore: Date; notAfter: Date } {
  const validityDays = days ?? fallback;
  if (!Number.isInteger(validityDays) || validityDays < 1) throw new PkiError(`validityDays must be a positive whole number, not ${validityDays}`);
  const now = Date.now();
  // Whole seconds: X.509 times carry no fractions, and a rounded notAfter must not exceed the promise.
  const start = Math.floor((now - CERT_BACKDATE_MS) / 1000) * 1000;
  const end = Math.floor((now + validityDays * DAY_MS) / 1000) * 1000;
  return { notBefore: new Date(start), notAfter: new Date(maxSpanDays === undefined ? end : Math.min(end, start + maxSpanDays * DAY_MS)) };
}

/** 128 random bits, positive and without a leading zero octet (RFC 5280 4.1.2.2). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function parseNodeCert(certPem: string): NodeX509Certificate {
  try {
    return new NodeX509Certificate(certPem);
  } catch (err) {
    throw new PkiError(`not a PEM certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
