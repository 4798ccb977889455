// Wire protocol between pf9-comms on a host and the plane's ingress: do not rename.
//
// Every local connection that comms accepts becomes its own TLS connection to the
// ingress. The ALPN protocol names the service it is for; SNI carries the plane's name,
// which the server certificate must match. ALPN, not SNI, routes: one name and one
// certificate serve every service, and HAProxy and nginx can route on it too.

export const TunnelServices = {
  /** The broker (AMQP 0-9-1). */
  amqp: 'pf9-amqp',
  /** The role store's host package listener: role packages, not the operators' REST API. */
  http: 'pf9-http',
  /** Registration: the only route that does not need a host certificate. */
  join: 'pf9-join',
  /** Reserved for the sidekick server. */
  sidekick: 'pf9-sidekick',
} as const;

export type TunnelService = keyof typeof TunnelServices;
export type TunnelProtocol = (typeof TunnelServices)[TunnelService];

/** A host certificate names its host in a URI subject alternative name: urn:pf9:host:<hostId>. */
export const HOST_CERT_URI_PREFIX = 'urn:pf9:host:';

/** The broker user of a host (created by the plane at registration). */
export function hostBrokerUser(hostId: string): string {
  return `pf9-host-${hostId}`;
}

/** File layout of the plane's PKI under PF9_DATA_DIR, and of a host's under PF9_ROOT. */
export const PkiFiles = {
  plane: { dir: 'pki', caCert: 'pki/ca.crt', caKey: 'pki/ca.key', ingressCert: 'pki/ingress.crt', ingressKey: 'pki/ingress.key', hostCrl: 'pki/hosts.crl' },
  host: {
    dir: 'etc/pf9/certs',
    caCert: 'etc/pf9/certs/ca.crt',
    cert: 'etc/pf9/certs/host.crt',
    key: 'etc/pf9/certs/host.key',
    broker: 'etc/pf9/broker.json',
    /** What the plane said about itself at join or renewal: its broker user, the only sender of control messages. */
    plane: 'etc/pf9/plane.json',
  },
} as const;
