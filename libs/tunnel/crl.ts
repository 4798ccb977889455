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
    const match = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(crlPem);
    if (match === null) return false;
    const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
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
