import { createPublicKey, verify, X509Certificate } from 'node:crypto';

/**
 * Whether a PEM CRL is signed by the key of the CA certificate `caPem`. OpenSSL takes a CRL
 * into a TLS context without looking at its signature, and then fails every client
 * certificate if the CRL is not its CA's: a file signed by another key must not get that far.
 * The CRL's DER is taken apart only as far as the signature needs: CertificateList ::=
 * SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING } (RFC 5280).
 */
export function crlSignedBy(crlPem: string, caPem: string): boolean {
  try {
    const der = crlDer(crlPem);
    if (der === null) return false;
    const outer = readTlv(der, 0);
    if (outer.tag !== 0x30) return false;
    const tbs = readTlv(der, outer.contentStart);
    const algorithm = readTlv(der, tbs.end);
    const signature = readTlv(der, algorithm.end);
    if (tbs.tag !== 0x30 || algorithm.tag !== 0x30 || signature.tag !== 0x03 || der[signature.contentStart] !== 0) return false;
    const key = createPublicKey(new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'pem' }));
    const hash = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : digestOf(der.subarray(algorithm.start, algorithm.end));
    return verify(hash, der.subarray(tbs.start, tbs.end), key, der.subarray(signature.contentStart + 1, signature.end));
  } catch {
    return false;
  }
}

/** CRL entry reason codes (RFC 5280) the tunnel acts on. */
export const CRL_REASON = { unspecified: 0, superseded: 4, cessationOfOperation: 5 } as const;

/**
 * The serial numbers a PEM CRL lists (lower-case hex without leading zeros, as `normalSerial`
 * makes them), each with its entry's reasonCode (undefined without one), read from its DER
 * without checking its signature (crlSignedBy does). TBSCertList ::= SEQUENCE { version
 * INTEGER OPTIONAL, signature, issuer, thisUpdate, nextUpdate OPTIONAL, revokedCertificates
 * SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate, crlEntryExtensions
 * OPTIONAL } OPTIONAL, crlExtensions [0] OPTIONAL }.
 */
export function crlRevocations(crlPem: string): Map<string, number | undefined> {
  const revocations = new Map<string, number | undefined>();
  const der = crlDer(crlPem);
  if (der === null) throw new Error('not a PEM CRL');
  const outer = readTlv(der, 0);
  const tbs = readTlv(der, outer.contentStart);
  let at = tbs.contentStart;
  const version = readTlv(der, at);
  if (version.tag === 0x02) at = version.end;
  // signature, issuer, thisUpdate
  for (let i = 0; i < 3; i += 1) at = readTlv(der, at).end;
  if (at < tbs.end) {
    const next = readTlv(der, at);
    if (next.tag === 0x17 || next.tag === 0x18) at = next.end;
  }
  if (at >= tbs.end) return revocations;
  const list = readTlv(der, at);
  if (list.tag !== 0x30) return revocations;
  for (let entryAt = list.contentStart; entryAt < list.end; ) {
    const entry = readTlv(der, entryAt);
    const serial = readTlv(der, entry.contentStart);
    if (entry.tag !== 0x30 || serial.tag !== 0x02) throw new Error('malformed revoked certificate entry');
    const date = readTlv(der, serial.end);
    const extensions = date.end < entry.end ? readTlv(der, date.end) : undefined;
    revocations.set(normalSerial(der.subarray(serial.contentStart, serial.end).toString('hex')), extensions === undefined ? undefined : reasonCode(der, extensions));
    entryAt = entry.end;
  }
  return revocations;
}

/** The reasonCode (id-ce-cRLReasons, 2.5.29.21: an ENUMERATED in the extension's OCTET STRING) among an entry's extensions. */
function reasonCode(der: Buffer, extensions: Tlv): number | undefined {
  for (let at = extensions.contentStart; at < extensions.end; ) {
    const extension = readTlv(der, at);
    const id = readTlv(der, extension.contentStart);
    if (id.tag === 0x06 && der.subarray(id.contentStart, id.end).toString('hex') === '551d15') {
      let valueAt = id.end;
      if (der[valueAt] === 0x01) valueAt = readTlv(der, valueAt).end; // critical
      const value = readTlv(der, valueAt);
      const enumerated = readTlv(der, value.contentStart);
      return enumerated.tag === 0x0a ? der[enumerated.contentStart] : undefined;
    }
    at = extension.end;
  }
  return undefined;
}

/** A certificate serial in one spelling: lower-case hex without leading zeros (Node's X509Certificate.serialNumber is upper case). */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

function crlDer(crlPem: string): Buffer | null {
  const match = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(crlPem);
  return match === null ? null : Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** One DER tag-length-value at `start` (definite lengths only, as DER has). */
function readTlv(der: Buffer, start: number): Tlv {
  const tag = der[start];
  let length = der[start + 1];
  let contentStart = start + 2;
  if (length === undefined || tag === undefined) throw new Error('truncated DER');
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = length * 256 + der[contentStart + i];
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, start, contentStart, end };
}

/** The digest of an ECDSA or RSA signature algorithm identifier, by its OID's DER bytes. */
function digestOf(algorithmIdentifier: Buffer): string {
  const hex = algorithmIdentifier.toString('hex');
  // ecdsa-with-SHA256/384/512, sha256/384/512WithRSAEncryption.
  if (hex.includes('2a8648ce3d040302') || hex.includes('2a864886f70d01010b')) return 'sha256';
  if (hex.includes('2a8648ce3d040303') || hex.includes('2a864886f70d01010c')) return 'sha384';
  if (hex.includes('2a8648ce3d040304') || hex.includes('2a864886f70d01010d')) return 'sha512';
  throw new Error('unsupported CRL signature algorithm');
}
