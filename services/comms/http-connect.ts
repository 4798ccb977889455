import { request } from 'node:http';
import type { Socket } from 'node:net';
import { errorCode, errorMessage, formatEndpoint, TunnelError, type Endpoint } from '../../libs/tunnel';
import type { ProxyConfig } from './comms.config';

/**
 * A TCP tunnel to `target` through an HTTP proxy (CONNECT, Basic auth from the proxy URL),
 * resolved with the raw socket once the proxy answers 2xx.
 */
export function connectThroughProxy(proxy: ProxyConfig, target: Endpoint, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  const authority = formatEndpoint(target);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: authority };
    if (proxy.auth !== undefined) headers['proxy-authorization'] = `Basic ${Buffer.from(proxy.auth).toString('base64')}`;
    const req = request({ host: proxy.host, port: proxy.port, method: 'CONNECT', path: authority, headers, agent: false });
    let settled = false;
    const finish = (err: Error | undefined, socket?: Socket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        req.destroy();
        socket?.destroy();
        reject(err);
      } else resolve(socket as Socket);
    };
    const onAbort = (): void => finish(new TunnelError('other', 'the local connection went away', 'ABORTED'));
    const timer = setTimeout(
      () => finish(new TunnelError('timeout', `proxy ${proxy.display} did not open a tunnel to ${authority} within ${timeoutMs} ms`, 'ETIMEDOUT')),
      timeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('connect', (res, socket, head) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        finish(new TunnelError('proxy', `proxy ${proxy.display} answered ${status} ${res.statusMessage ?? ''} to CONNECT ${authority}`.trim(), `HTTP_${status}`), socket);
        return;
      }
      if (head.length > 0) socket.unshift(head);
      // The TLS socket built on it takes its half-open behaviour from it (http made it without).
      socket.allowHalfOpen = true;
      finish(undefined, socket);
    });
    req.once('error', (err) =>
      finish(new TunnelError('proxy', `proxy ${proxy.display} cannot be reached: ${errorMessage(err)}`, errorCode(err))),
    );
    req.end();
  });
}
