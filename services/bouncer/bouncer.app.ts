import type { AddressInfo } from 'node:net';
import { Logger } from '#logging';
import { errorMessage, formatEndpoint, startAdminServer, watchCertificates } from '../../libs/tunnel';
import type { BouncerConfig } from './bouncer.config';
import { BouncerMetrics } from './bouncer.metrics';
import { PlaneReviewClient, type PlaneLink } from './plane-review.client';
import { ReviewCache } from './review-cache';
import { ServingCredentials, type ServingTls } from './serving-credentials';
import { REVIEW_PATH, createTokenReviewServer } from './token-review.server';
import { TokenReviewer } from './token-reviewer';

export interface RunningBouncer {
  /** Where kube-apiserver sends TokenReviews: https://<listen>/authenticate, with the port actually bound. */
  url: string;
  port: number;
  adminUrl: string;
  /** The host whose certificate and broker user bouncer uses. */
  hostId: string;
  /** Looks at the certificate files now; true when new ones were loaded. */
  reloadCertificates(): boolean;
  close(): Promise<void>;
}

export interface BouncerHealth {
  status: 'ok' | 'degraded';
  hostId: string;
  /** Whether the broker connection through pf9-comms is up (reviews fail closed while it is not, cached answers aside). */
  plane: 'connected' | 'disconnected';
  certificateNotAfter: string;
  cacheEntries: number;
}

export interface BouncerDeps {
  logger?: Logger;
  /** Stands in for the plane (tests); by default the host's broker user through comms. */
  plane?: PlaneLink;
  now?: () => number;
}

/**
 * pf9-bouncer: kube-apiserver's webhook token authenticator on a master node. It serves
 * HTTPS with the host's certificate (from the plane's CA) and asks the plane, through the
 * host's tunnel and as the host, whether a bearer token is an operator token.
 */
export async function startBouncer(config: BouncerConfig, deps: BouncerDeps = {}): Promise<RunningBouncer> {
  const logger = deps.logger ?? new Logger('bouncer', config.logLevel);
  const credentials = new ServingCredentials(config.tls, deps.now);
  const hostId = credentials.current.hostId;
  const cache = new ReviewCache(config.cache);
  const metrics = new BouncerMetrics(() => cache.size);
  const expiry = (tls: ServingTls): void => metrics.certificateExpiry.set(tls.notAfter.getTime() / 1000);
  expiry(credentials.current);

  const client = deps.plane ?? new PlaneReviewClient({ amqpUrl: config.amqpUrl, brokerUserFile: config.brokerUserFile, hostId, timeoutMs: config.planeTimeoutMs, logger, metrics });
  await client.start();

  const reviewer = new TokenReviewer(client, cache, metrics, logger, { maxPending: config.maxPending, now: deps.now });
  const server = createTokenReviewServer(credentials.current.options, reviewer, metrics, logger);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await client.close();
    throw err;
  }
  server.on('error', (err) => logger.error('listener error', { err: errorMessage(err) }));
  const port = (server.address() as AddressInfo).port;

  const health = (): BouncerHealth => ({
    status: client.connected() ? 'ok' : 'degraded',
    hostId,
    plane: client.connected() ? 'connected' : 'disconnected',
    certificateNotAfter: credentials.current.notAfter.toISOString(),
    cacheEntries: cache.size,
  });
  let admin;
  try {
    admin = await startAdminServer(config.admin, metrics.registry, health, logger);
  } catch (err) {
    server.close();
    await client.close();
    throw err;
  }

  // A renewed certificate serves new connections; open ones keep theirs.
  const certificates = watchCertificates({
    reload: () => credentials.reloadIfChanged(),
    apply: (tls) => {
      server.setSecureContext(tls.options);
      expiry(tls);
    },
    describe: (tls) => ({ certFile: config.tls.certFile, serial: tls.serial, certificateNotAfter: tls.notAfter.toISOString() }),
    everyMs: config.certRecheckMs,
    logger,
  });

  const url = `https://${formatEndpoint({ host: config.listen.host, port })}${REVIEW_PATH}`;
  logger.info('bouncer listening', {
    url,
    hostId,
    serverName: credentials.current.dnsName,
    admin: admin.url,
    certificateNotAfter: credentials.current.notAfter.toISOString(),
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    adminUrl: admin.url,
    hostId,
    reloadCertificates: certificates.reloadNow,
    close: () =>
      (closing ??= (async () => {
        certificates.stop();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.all([closed, admin.close(), client.close()]);
      })()),
  };
}
