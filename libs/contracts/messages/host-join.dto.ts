import { IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { HOST_ID_PATTERN } from '../wire';

// Registration (plane-host protocol, not part of CONTRACT.md v1): a host that holds a
// one-time join token sends its CSR to the join listener (`POST /v1/join`, reached through
// the ingress by ALPN `pf9-join`) and gets back its certificate and the plane's CA.
// Before that certificate expires, the host renews it on the same listener
// (`POST /v1/renew`), proving with its current key that it is the host it names.

export const HOST_JOIN_PATH = '/v1/join';
/** A join token: 32 random bytes, base64url without padding. */
export const JOIN_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The body of `POST /v1/join`. */
export class HostJoinRequest {
  @Matches(JOIN_TOKEN_PATTERN, { message: 'token must be a join token (43 base64url characters)' })
  token!: string;

  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(255)
  hostname!: string;

  /** A PEM "CERTIFICATE REQUEST" made on the host: the private key never leaves it. */
  @IsString()
  @MaxLength(16 * 1024)
  @Matches(/-----BEGIN CERTIFICATE REQUEST-----/, { message: 'csr must be a PEM certificate request' })
  csr!: string;
}

/** Broker credentials of the host's own user; null: the host uses the plane's shared ones. */
export interface HostBrokerAccount {
  username: string;
  password: string;
}

/** The answer to `POST /v1/join`. */
export interface HostJoinResult {
  hostId: string;
  /** The host's certificate (PEM), CN and URI SAN naming the host. */
  certificate: string;
  /** The plane's CA certificate (PEM). */
  caCertificate: string;
  broker: HostBrokerAccount | null;
  /** The plane's broker user: the user_id (validated by the broker) of every control message the plane sends; the host acts on no other. */
  planeBrokerUser: string;
}

export const HOST_RENEW_PATH = '/v1/renew';

/** The body of `POST /v1/renew`: no token; the current certificate and a proof of its key instead. */
export class HostRenewRequest {
  @Matches(HOST_ID_PATTERN, { message: 'hostId must be 1-64 letters, digits, "_" or "-"' })
  hostId!: string;

  /** The certificate the plane last issued to this host (PEM), still valid. */
  @IsString()
  @MaxLength(16 * 1024)
  @Matches(/-----BEGIN CERTIFICATE-----/, { message: 'certificate must be a PEM certificate' })
  certificate!: string;

  /** A PEM "CERTIFICATE REQUEST" for a new key made on the host. */
  @IsString()
  @MaxLength(16 * 1024)
  @Matches(/-----BEGIN CERTIFICATE REQUEST-----/, { message: 'csr must be a PEM certificate request' })
  csr!: string;

  /** The current key's signature over `csr` as sent (ECDSA P-256, SHA-256, DER, base64). */
  @Matches(/^[A-Za-z0-9+/]{40,400}={0,2}$/, { message: 'proof must be a base64 signature' })
  proof!: string;
}

/** The answer to `POST /v1/renew`. */
export interface HostRenewResult {
  hostId: string;
  /** The host's new certificate (PEM), for the key of the request. */
  certificate: string;
  /** The plane's CA certificate (PEM). */
  caCertificate: string;
  /** As in the join's answer (hosts registered before it was sent learn it here). */
  planeBrokerUser: string;
}
