import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '#logging';
import { formatEndpoint, type Endpoint } from './endpoint-list';

export interface AdminServer {
  /** http://host:port, with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

/**
 * The small HTTP server beside each end of the tunnel: `GET /healthz` answers 200 with
 * what `health()` returns (the process is up; the JSON says how it is doing), `GET /metrics`
 * the registry in Prometheus' text format.
 */
export async function startAdminServer(endpoint: Endpoint, registry: Registry, health: () => object, logger: Logger): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const body = JSON.stringify(health());
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          logger.error('cannot render metrics', { err });
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  // Scrapers and probes keep connections alive; do not let one hold close() up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const url = `http://${formatEndpoint({ host: endpoint.host, port: bound.port })}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
