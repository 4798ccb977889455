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

/**
 * A host certificate also names its host in a DNS subject alternative name,
 * <hostId>.hosts.hostplane.internal, and is good for TLS servers too: pf9-bouncer serves
 * with it, and kube-apiserver checks that name (tls-server-name in its webhook kubeconfig).
 * Only a host id that is a DNS label (lower-case letters, digits, inner "-", at most 63)
 * gets one, so that no two host ids map to the same name.
 */
export const HOST_CERT_DNS_SUFFIX = 'hosts.hostplane.internal';
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The DNS name a host certificate carries for `hostId`, or null when the id is no DNS label. */
export function hostDnsName(hostId: string): string | null {
  return DNS_LABEL.test(hostId) ? `${hostId}.${HOST_CERT_DNS_SUFFIX}` : null;
}

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

/**
 * pf9-comms's Unix sockets, which the host agent reaches it on: `<service>.sock` in a folder
 * only comms's user (and root) may enter; by default `run/pf9-comms` under PF9_ROOT (the
 * systemd units: /run/pf9-comms, comms's RuntimeDirectory).
 */
export const CommsSockets = {
  dir: 'run/pf9-comms',
  /** The services the host agent reaches through comms. */
  services: ['amqp', 'http', 'join'],
} as const satisfies { dir: string; services: readonly TunnelService[] };

export function commsSocketFile(service: TunnelService): string {
  return `${service}.sock`;
}

/** PF9_COMMS_LISTEN for comms's sockets in `dir`, one per service the agent reaches. */
export function commsSocketListen(dir: string): string {
  return CommsSockets.services.map((service) => `${service}=unix:${dir.replace(/\/+$/, '')}/${commsSocketFile(service)}`).join(',');
}
