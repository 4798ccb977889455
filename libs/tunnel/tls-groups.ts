import { createSecureContext } from 'node:tls';

/**
 * The key exchange groups of the tunnel's TLS (`PF9_TLS_GROUPS`, OpenSSL's group list
 * syntax, most preferred first) on both ends. Unset, OpenSSL's own list applies: with
 * Node 24 (OpenSSL 3.5) that is X25519MLKEM768 first, a hybrid of X25519 and the
 * post-quantum ML-KEM, so that traffic recorded today cannot be read by a quantum computer
 * later, and X25519 for peers without it (OpenSSL 3.0: HAProxy, nginx, stunnel on Debian 12).
 * The hybrid costs about a fifth more CPU per handshake (bench/README.md); `X25519:P-256`
 * trades that protection for it.
 */
export function readTlsGroups(text: string | undefined, problems: string[]): string | undefined {
  if (text === undefined) return undefined;
  try {
    createSecureContext({ ecdhCurve: text });
  } catch {
    problems.push(`PF9_TLS_GROUPS: '${text}' is not a list of key exchange groups this OpenSSL knows (for example X25519MLKEM768:X25519 or X25519:P-256)`);
  }
  return text;
}
