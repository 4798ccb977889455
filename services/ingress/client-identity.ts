import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { HOST_CERT_URI_PREFIX, HOST_ID_PATTERN } from '../../libs/tunnel';

export type RefusalCause = 'missing' | 'expired' | 'not-yet-valid' | 'untrusted' | 'revoked' | 'invalid' | 'not-a-host';

export interface ClientIdentity {
  /** The host the certificate names (URI SAN urn:pf9:host:<id>, else the subject CN); claimed only unless `authorized`. */
  hostId?: string;
  presented: boolean;
  authorized: boolean;
  /** The certificate's serial (hex) when it is authorized: revoking it closes the connections it opened. */
  serial?: string;
  /** Why it is not authorized, as a metric label and as words for the log. */
  refusal?: { cause: RefusalCause; reason: string; code?: string };
}

const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** What the client certificate of a TLS connection says, and whether the plane's CA vouches for it. */
export function clientIdentity(socket: TLSSocket): ClientIdentity {
  // The X509Certificate view decodes fields on demand: several times cheaper than getPeerCertificate().
  const cert = socket.getPeerX509Certificate();
  const presented = cert !== undefined;
  const hostUrn = cert !== undefined ? hostUrnOf(cert) : undefined;
  const hostId = hostUrn ?? (cert !== undefined ? commonNameOf(cert) : undefined);
  if (socket.authorized) {
    // The plane's CA signs other certificates too (the ingress's own): only a host certificate opens a route.
    if (hostUrn !== undefined) return { hostId, presented, authorized: true, serial: cert?.serialNumber };
    return { hostId, presented, authorized: false, refusal: { cause: 'not-a-host', reason: `client certificate names no host (no ${HOST_CERT_URI_PREFIX} URI)` } };
  }
  const code = typeof socket.authorizationError === 'string' ? socket.authorizationError : socket.authorizationError?.message;
  return { hostId, presented, authorized: false, refusal: refusalOf(presented, code) };
}

/** The host a certificate names: its urn:pf9:host: URI SAN, else (for the log only) its subject CN. */
export function hostIdOf(cert: Pick<X509Certificate, 'subjectAltName' | 'subject'>): string | undefined {
  return hostUrnOf(cert) ?? commonNameOf(cert);
}

/** The host id of the certificate's urn:pf9:host: URI SAN, which the plane's CA puts in every host certificate; only a valid host id counts. */
export function hostUrnOf(cert: Pick<X509Certificate, 'subjectAltName'>): string | undefined {
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (!entry.startsWith(`URI:${HOST_CERT_URI_PREFIX}`)) continue;
    const hostId = entry.slice(`URI:${HOST_CERT_URI_PREFIX}`.length);
    return HOST_ID_PATTERN.test(hostId) ? hostId : undefined;
  }
  return undefined;
}

function commonNameOf(cert: Pick<X509Certificate, 'subject'>): string | undefined {
  return /^CN=(.+)$/m.exec(cert.subject)?.[1];
}

function refusalOf(presented: boolean, code: string | undefined): ClientIdentity['refusal'] {
  if (!presented) return { cause: 'missing', reason: 'no client certificate', code };
  if (code === 'CERT_HAS_EXPIRED') return { cause: 'expired', reason: 'client certificate expired', code };
  if (code === 'CERT_NOT_YET_VALID') return { cause: 'not-yet-valid', reason: 'client certificate not yet valid', code };
  if (code !== undefined && UNTRUSTED.has(code)) return { cause: 'untrusted', reason: 'client certificate not issued by the plane CA', code };
  if (code === 'CERT_REVOKED') return { cause: 'revoked', reason: 'client certificate revoked (renewed or replaced; the host has a newer one)', code };
  return { cause: 'invalid', reason: `client certificate invalid (${code ?? 'unknown'})`, code };
}
