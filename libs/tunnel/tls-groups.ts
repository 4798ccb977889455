import { createSecureContext } from 'node:tls';

/**
 * The key exchange groups of the tunnel's TLS (`PF9_TLS_GROUPS`, OpenSSL's group list
 * syntax, most preferred first) on both ends. Unset, OpenSSL's own list applies: with
 * Node 24 (OpenSSL 3.5) that is X25519MLKEM768 first, a hybrid of X25519 and the
 * post-quantum ML-KEM, so that traffic recorded today cannot be read by a quantum computer
 * later, and X25519 for peers without it (OpenSSL 3.0: HAProxy, nginx, stunnel on Debian 12).
 * The hybrid costs about a fifth more CPU per full handshake (bench/README.md); comms spares
 * resumptions that cost (`classicalGroups`), and `X25519:P-256` trades the protection away.
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

/** OpenSSL 3.5's default groups less its post-quantum hybrid, in its order. */
const DEFAULT_CLASSICAL_GROUPS = 'X25519:P-256:X448:P-384:P-521:ffdhe2048:ffdhe3072';
const POST_QUANTUM = /MLKEM|KYBER/i;

/** Whether a negotiated group (as `getEphemeralKeyInfo` names it) resists a quantum computer. */
export function isPostQuantumGroup(name: string | undefined): boolean {
  return name !== undefined && POST_QUANTUM.test(name);
}

/**
 * The classical groups of a group list (undefined: OpenSSL's default), to resume a session
 * that a post-quantum handshake began: the resumed keys come from that session's secret as
 * well as from the new exchange, so a classical exchange keeps them out of a quantum
 * computer's reach without the hybrid's cost. Undefined when the list names no
 * post-quantum group, nothing else, or uses syntax this does not take apart (DEFAULT, removals).
 */
export function classicalGroups(groups: string | undefined): string | undefined {
  if (groups === undefined) return DEFAULT_CLASSICAL_GROUPS;
  const tokens = groups
    .split(/[:/]/)
    .map((token) => token.trim())
    .filter((token) => token !== '');
  if (tokens.some((token) => token.startsWith('-') || /^DEFAULT$/i.test(token))) return undefined;
  // '*' asks for a key share; in a plain list the first group gets one.
  const classical = tokens.filter((token) => !POST_QUANTUM.test(token)).map((token) => token.replaceAll('*', ''));
  if (classical.length === 0 || classical.length === tokens.length) return undefined;
  return classical.join(':');
}
