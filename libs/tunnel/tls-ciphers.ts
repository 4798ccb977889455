import { createSecureContext, DEFAULT_CIPHERS, getCiphers } from 'node:tls';

const AES_128 = 'TLS_AES_128_GCM_SHA256';

/**
 * The tunnel's cipher suites unless `PF9_TLS_CIPHERS` says otherwise: Node's list with
 * TLS_AES_128_GCM_SHA256 moved first (OpenSSL puts TLS_AES_256_GCM_SHA384 first for TLS 1.3;
 * Node's own TLS 1.2 list already prefers AES-128). It is TLS 1.3's mandatory suite and the
 * first choice of browsers, Go and BoringSSL. Its SHA-256 key schedule costs a handshake about
 * 5% less CPU than SHA-384's, which this VM computes without hardware help, and AES-128 has
 * fewer rounds per block (bench/README.md). A 128-bit key stays out of a quantum computer's
 * reach as well (NIST's post-quantum category 1 is defined by it). The server's order
 * decides (Node's servers honour their own), so the ingress's list is the plane's policy.
 */
export const DEFAULT_TUNNEL_CIPHERS = [AES_128, ...DEFAULT_CIPHERS.split(':').filter((name) => name !== AES_128)].join(':');

/**
 * `PF9_TLS_CIPHERS`: OpenSSL's cipher string, with the TLS 1.3 suites by name (as Node's
 * `ciphers` option takes them), most preferred first; unset, DEFAULT_TUNNEL_CIPHERS.
 * A TLS 1.3 suite name this OpenSSL does not know is a problem, not skipped: a policy that
 * names one expects it to be used.
 */
export function readTlsCiphers(text: string | undefined, problems: string[]): string {
  if (text === undefined) return DEFAULT_TUNNEL_CIPHERS;
  const known = new Set(getCiphers());
  const unknown = text.split(':').filter((name) => /^TLS_/i.test(name) && !known.has(name.toLowerCase()));
  let usable = unknown.length === 0;
  if (usable) {
    try {
      createSecureContext({ ciphers: text });
    } catch {
      usable = false;
    }
  }
  if (!usable) {
    const which = unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : '';
    problems.push(`PF9_TLS_CIPHERS: '${text}' is not a cipher list this OpenSSL takes${which} (for example TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256)`);
  }
  return text;
}
