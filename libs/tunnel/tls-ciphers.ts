import { createSecureContext, DEFAULT_CIPHERS, getCiphers } from 'node:tls';

const AES_128 = 'TLS_AES_128_GCM_SHA256';

/** Node hands names that begin so (case and all) to TLS 1.3's suites, the rest to TLS 1.2's list. */
const isTls13Suite = (name: string): boolean => name.startsWith('TLS_');

/**
 * The tunnel's cipher suites unless `PF9_TLS_CIPHERS` says otherwise: Node's list with
 * TLS_AES_128_GCM_SHA256 moved first (OpenSSL puts TLS_AES_256_GCM_SHA384 first for TLS 1.3;
 * Node's own TLS 1.2 list already prefers AES-128). It is TLS 1.3's mandatory suite and the
 * first choice of browsers, Go and BoringSSL. On the bench machine (whose CPU computes SHA-256
 * in hardware, SHA-512 not) its key schedule costs a handshake about 5% less CPU than
 * SHA-384's, and AES-128 has fewer rounds per block (bench/README.md). Against a quantum
 * computer a 128-bit key gives NIST's post-quantum category 1, below the category 3 of the
 * ML-KEM-768 exchange but still counted as safe; a policy that asks for 256-bit keys sets
 * PF9_TLS_CIPHERS (docs/design.md). The server's order decides where the server is
 * services/ingress (Node's servers honour their own order) or HAProxy.
 */
export const DEFAULT_TUNNEL_CIPHERS = [AES_128, ...DEFAULT_CIPHERS.split(':').filter((name) => name !== AES_128)].join(':');

/**
 * `PF9_TLS_CIPHERS`: OpenSSL's cipher string, TLS 1.3 suites by name (as Node's `ciphers`
 * option takes them), most preferred first; unset, DEFAULT_TUNNEL_CIPHERS.
 *
 * Node sets TLS 1.3's suites and TLS 1.2's ciphers from the two kinds of names apart, and
 * a list with one kind only would change the other behind the operator's back (TLS 1.2 off
 * with TLS 1.3 names alone; OpenSSL's TLS 1.3 order with TLS 1.2 names alone): the kind a
 * list does not name keeps the default's. A TLS 1.3 name this OpenSSL does not know, or one
 * not in capitals (Node would take it for a TLS 1.2 name and drop it), is a problem. TLS 1.2
 * names are OpenSSL's to judge: a list it takes nothing from is a problem, a misspelt name
 * beside valid ones is skipped (its syntax has aliases and exclusions: HIGH, !aNULL).
 */
export function readTlsCiphers(text: string | undefined, problems: string[]): string {
  if (text === undefined) return DEFAULT_TUNNEL_CIPHERS;
  const names = text.split(':').filter((name) => name !== '');
  const known = new Set(getCiphers());
  const lowerCase = names.filter((name) => name.startsWith('tls_'));
  const unknown = names.filter((name) => isTls13Suite(name) && !known.has(name.toLowerCase()));
  const defaults = DEFAULT_TUNNEL_CIPHERS.split(':');
  const tls13 = names.filter(isTls13Suite);
  const tls12 = names.filter((name) => !isTls13Suite(name) && !name.startsWith('tls_'));
  const ciphers = [...(tls13.length > 0 ? tls13 : defaults.filter(isTls13Suite)), ...(tls12.length > 0 ? tls12 : defaults.filter((name) => !isTls13Suite(name)))].join(':');
  const why: string[] = [];
  if (unknown.length > 0) why.push(`unknown: ${unknown.join(', ')}`);
  if (lowerCase.length > 0) why.push(`TLS 1.3 suites are written in capitals: ${lowerCase.join(', ')}`);
  if (why.length === 0 && tls12.length > 0) {
    try {
      createSecureContext({ ciphers: tls12.join(':') });
    } catch {
      why.push('no TLS 1.2 cipher OpenSSL knows');
    }
  }
  if (why.length > 0) {
    problems.push(`PF9_TLS_CIPHERS: '${text}' is not a cipher list this OpenSSL takes (${why.join('; ')}; for example TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384)`);
  }
  return ciphers;
}
