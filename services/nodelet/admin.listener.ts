import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '#logging';
import type { Endpoint } from '../../libs/tunnel/endpoint-list';
import { formatEndpoint } from '../../libs/tunnel/endpoint-list';

export interface AdminListener {
  url: string;
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 8 * 1024;

/**
 * nodelet's `/healthz` (200, the JSON `health()` gives) and `/metrics` (Prometheus text),
 * as the other services serve them, on a minimal HTTP/1.1 responder over node:net: one
 * request per connection, answered and closed. node:http would cost nodelet, which runs on
 * every node, a tenth of its memory budget for two fixed answers.
 */
export async function startAdminListener(endpoint: Endpoint, metrics: () => Promise<string>, contentType: string, health: () => object, logger: Logger): Promise<AdminListener> {
  const server: Server = createServer((socket) => serve(socket, metrics, contentType, health, logger));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : endpoint.port;
  return {
    url: `http://${formatEndpoint({ host: endpoint.host, port })}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function serve(socket: Socket, metrics: () => Promise<string>, contentType: string, health: () => object, logger: Logger): void {
  let head = '';
  socket.setEncoding('latin1');
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    if (head.includes('\r\n\r\n')) return;
    head += chunk;
    if (head.length > MAX_HEAD_BYTES) return answer(socket, 'GET', 431, 'text/plain', 'request head too large\n');
    if (!head.includes('\r\n\r\n')) return;
    const [method = '', target = ''] = head.slice(0, head.indexOf('\r\n')).split(' ');
    const path = target.split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') return answer(socket, method, 405, 'text/plain', 'method not allowed\n', 'allow: GET, HEAD\r\n');
    if (path === '/healthz') return answer(socket, method, 200, 'application/json', JSON.stringify(health()));
    if (path === '/metrics') {
      metrics().then(
        (text) => answer(socket, method, 200, contentType, text),
        (err: unknown) => {
          logger.error('cannot render metrics', { err: String(err) });
          answer(socket, method, 500, 'text/plain', 'error\n');
        },
      );
      return;
    }
    answer(socket, method, 404, 'text/plain', 'not found\n');
  });
}

const REASONS: Record<number, string> = { 200: 'OK', 404: 'Not Found', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error' };

function answer(socket: Socket, method: string, status: number, type: string, body: string, extra = ''): void {
  const bytes = Buffer.from(body, 'utf8');
  const headers = `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\ncontent-type: ${type}\r\ncontent-length: ${bytes.length}\r\ncache-control: no-store\r\nconnection: close\r\n${extra}\r\n`;
  socket.end(method === 'HEAD' ? Buffer.from(headers, 'latin1') : Buffer.concat([Buffer.from(headers, 'latin1'), bytes]));
}
