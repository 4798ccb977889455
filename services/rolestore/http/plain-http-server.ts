import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain node:http server of the role store's own (the join and host package listeners,
 * each alone on its port, beside the Nest app), listening once this resolves; its base URL.
 */
export async function listenPlainHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  at: { port: number; host: string; requestTimeoutMs: number },
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.requestTimeout = at.requestTimeoutMs;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` };
}

/** Answers `body` as JSON, with `headers` beside the content type and length. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
