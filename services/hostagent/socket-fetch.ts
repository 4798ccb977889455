import { request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

/**
 * A `fetch` that speaks HTTP/1.1 over a Unix socket: the URL gives the path and the Host
 * header, `socketPath` where to connect (asked for every request, so that it can check the
 * socket's folder first; its rejection is the request's). Bodies are strings or bytes, as
 * the agent sends them.
 */
export function socketFetch(socketPath: () => Promise<string>): typeof fetch {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError('socketFetch sends only string or byte bodies');
    }
    const path = await socketPath();
    init.signal?.throwIfAborted();
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        { socketPath: path, method: init.method ?? 'GET', path: `${url.pathname}${url.search}`, headers: { ...headers, host: url.host }, signal: init.signal ?? undefined },
        (res) => {
          const status = res.statusCode ?? 502;
          const noBody = status === 204 || status === 304 || init.method === 'HEAD';
          if (noBody) res.resume();
          resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers: toHeaders(res.headers) }));
        },
      );
      // Node's connect errors name the socket (connect ENOENT /run/pf9-comms/join.sock).
      req.once('error', reject);
      req.end(body ?? undefined);
    });
  };
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
