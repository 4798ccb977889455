import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { parseJsonBytes } from '#contracts';
import type { Logger } from '#logging';
import type { BouncerMetrics } from './bouncer.metrics';
import { parseTokenReview, statusResponse, tokenReviewResponse } from './token-review.codec';
import type { TokenReviewer } from './token-reviewer';

/** The one path kube-apiserver POSTs TokenReviews to (the server URL of its webhook kubeconfig). */
export const REVIEW_PATH = '/authenticate';
/** A TokenReview is a few hundred bytes; a token at most a few KiB. */
export const MAX_REVIEW_BYTES = 64 * 1024;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The HTTPS server kube-apiserver talks to: `POST /authenticate` with a TokenReview, and
 * nothing else. A request that is no TokenReview is answered 400 (415, 413, 405, 404 for
 * what is not even a JSON POST here) and counted as `malformed`; every review is answered
 * 200 with `status.authenticated`.
 */
export function createTokenReviewServer(tls: SecureContextOptions, reviewer: TokenReviewer, metrics: BouncerMetrics, logger: Logger): Server {
  const server = createServer({ ...tls }, (req, res) => {
    void handle(req, res).catch((err: unknown) => {
      logger.error('token review failed unexpectedly: not authenticated', { err: err instanceof Error ? err.name : 'error' });
      if (!res.headersSent) send(res, 500, statusResponse(500, 'InternalError', 'the review failed'));
      else res.destroy();
    });
  });
  // kube-apiserver keeps its connections; a client that sends nothing is let go.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 60_000;
  server.on('tlsClientError', (err: Error) => logger.debug('TLS handshake refused', { reason: err.message }));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let token: string;
    try {
      token = await readReview(req);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      metrics.reviews.inc({ outcome: 'malformed' });
      // The reason only: a message may quote the body, and the body may hold a token.
      logger.info('request refused', { status: err.status, reason: err.reason });
      // A body left unread cannot be skipped on a kept-alive connection.
      if (err.status === 413 || err.status === 415) res.setHeader('connection', 'close');
      send(res, err.status, statusResponse(err.status, err.reason, err.message), err.status === 405 ? { allow: 'POST' } : {});
      return;
    }
    const verdict = await reviewer.review(token);
    metrics.reviews.inc({ outcome: verdict.outcome });
    if (verdict.outcome === 'authenticated') logger.debug('token authenticated', { username: verdict.user.username, uid: verdict.user.uid });
    send(res, 200, tokenReviewResponse(verdict));
  }

  return server;
}

/** The token of the TokenReview a request carries; a Refusal saying why there is none. */
async function readReview(req: IncomingMessage): Promise<string> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== REVIEW_PATH) throw new Refusal(404, 'NotFound', `only POST ${REVIEW_PATH} is served here`);
  if (req.method !== 'POST') throw new Refusal(405, 'MethodNotAllowed', `${REVIEW_PATH} takes POST only`);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new Refusal(415, 'UnsupportedMediaType', 'the body must be application/json (a TokenReview)');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REVIEW_BYTES) throw new Refusal(413, 'RequestEntityTooLarge', `the body is larger than ${MAX_REVIEW_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REVIEW_BYTES) throw new Refusal(413, 'RequestEntityTooLarge', `the body is larger than ${MAX_REVIEW_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const json = parseJsonBytes(Buffer.concat(chunks));
  if (!json.ok) throw new Refusal(400, 'BadRequest', json.problem);
  const review = parseTokenReview(json.value);
  if (!review.ok) throw new Refusal(400, 'BadRequest', review.problem);
  return review.token;
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers }).end(text);
}
