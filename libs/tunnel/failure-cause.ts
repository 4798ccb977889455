/** Why a tunnel connection could not be made, as a metric label. */
export type FailureCause = 'refused' | 'timeout' | 'dns' | 'unreachable' | 'reset' | 'tls' | 'proxy' | 'other';

/** An error this code raises itself, with the cause already known (timeouts, proxy answers). */
export class TunnelError extends Error {
  constructor(
    readonly kind: FailureCause,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'TunnelError';
  }
}

// OpenSSL's certificate verification results as node reports them, and node's own TLS codes.
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_|HOSTNAME_MISMATCH)/;

export function failureCause(err: unknown): FailureCause {
  if (err instanceof TunnelError) return err.kind;
  const code = errorCode(err);
  if (code === undefined) return 'other';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (TLS_CODE.test(code)) return 'tls';
  return 'other';
}

/**
 * The alert a TLS peer sent, from node's code for it (`HANDSHAKE_FAILURE` out of
 * ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: OpenSSL names alerts after SSLv3, TLSv1 or, since
 * 3.0, "SSL/TLS"); undefined for any other code.
 */
export function peerAlert(code: string | undefined): string | undefined {
  return code === undefined ? undefined : /^ERR_SSL_(?:SSLV3|TLSV1|SSL\/TLS)_ALERT_([A-Z_]+)$/.exec(code)?.[1];
}

export function errorCode(err: unknown): string | undefined {
  if (err instanceof TunnelError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
