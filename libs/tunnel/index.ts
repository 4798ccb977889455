// The pieces both ends of the host's one TLS port share (pf9-comms on a host, the ingress
// on the plane): the splice of two sockets, socket options, failure causes, metrics, the
// admin HTTP server and `name=host:port` lists.
//
// The tunnel's wire names are re-exported from their one definition in libs/contracts,
// without the rest of the contract: comms loads no validators (it has a memory budget).
export { HOST_CERT_URI_PREFIX, hostBrokerUser, PkiFiles, TunnelServices, type TunnelProtocol, type TunnelService } from '../contracts/tunnel';
export { HOST_ID_PATTERN } from '../contracts/wire';
export { formatEndpoint, parseEndpointList, parseHostPort, parseListenAddress, parseListenList, type Endpoint, type ListenAddress, type Parsed } from './endpoint-list';
export { SocketSplice, type SpliceOutcome } from './socket-splice';
export { KEEPALIVE_INITIAL_DELAY_MS, SOCKET_BUFFER_BYTES, tuneSocket } from './socket-tuning';
export { errorCode, errorMessage, failureCause, peerAlert, TunnelError, type FailureCause } from './failure-cause';
export { TunnelMetrics, type TunnelMetricsOptions } from './tunnel.metrics';
export { startAdminServer, type AdminServer } from './admin-server';
export { classicalGroups, isPostQuantumGroup, readTlsGroups } from './tls-groups';
export { DEFAULT_TUNNEL_CIPHERS, readTlsCiphers } from './tls-ciphers';
export { tuneHeapForStreaming } from './heap-tuning';
export { fileStamps } from './file-stamps';
export { CRL_REASON, crlRevocations, crlSignedBy, normalSerial } from './crl';
export { watchCertificates, type CertificateWatch } from './certificate-watch';
