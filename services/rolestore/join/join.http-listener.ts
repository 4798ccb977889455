import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { describeDetails, ErrorCodes, HOST_JOIN_PATH, HOST_RENEW_PATH, HostJoinRequest, HostRenewRequest, parseJsonBytes, validatePlain, type HttpErrorView } from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { toHttpError } from '../http/http-errors';
import { listenPlainHttp, sendJson } from '../http/plain-http-server';
import { JoinService } from './join.service';
import { JoinUnavailableError } from './plane-pki.source';

const MAX_BODY_BYTES = 64 * 1024;

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The registration endpoint, alone on its own port: plain node:http with two routes
 * (`POST /v1/join`, `POST /v1/renew`), so that what hosts without a certificate can reach
 * through the ingress (ALPN `pf9-join`) is this and nothing else of the role store.
 */
@Injectable()
export class JoinHttpListener implements BeforeApplicationShutdown {
  private server: Server | null = null;
  private readonly logger: Logger;

  constructor(
    private readonly joins: JoinService,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'join-http' });
  }

  /** Starts listening; answers the base URL. */
  async listen(port: number, host: string): Promise<string> {
    const { server, url } = await listenPlainHttp((req, res) => void this.handle(req, res), { port, host, requestTimeoutMs: 30_000 });
    this.server = server;
    this.logger.info('join listener ready', { url });
    return url;
  }

  /** Stops accepting, lets joins in flight finish (the database is closed after this). */
  async close(): Promise<void> {
    this.joins.stop();
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '').split('?')[0];
      if (path !== HOST_JOIN_PATH && path !== HOST_RENEW_PATH) {
        throw new HttpFailure(404, `no route ${req.method ?? ''} ${path}: this port only serves POST ${HOST_JOIN_PATH} and POST ${HOST_RENEW_PATH}`);
      }
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new HttpFailure(405, `${path} takes POST only`);
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json') throw new HttpFailure(415, 'the body must be application/json');
      const body = parseJson(await readBody(req));
      if (path === HOST_JOIN_PATH) {
        const validated = validatePlain(HostJoinRequest, body, { forbidUnknown: true });
        if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid join request: ${describeDetails(validated.details)}`, validated.details);
        send(res, 200, await this.joins.join(validated.value));
      } else {
        const validated = validatePlain(HostRenewRequest, body, { forbidUnknown: true });
        if (!validated.ok) throw new ApplicationError(ErrorCodes.validationFailed, `invalid renewal request: ${describeDetails(validated.details)}`, validated.details);
        send(res, 200, await this.joins.renew(validated.value));
      }
    } catch (err) {
      const { status, body } = this.toError(err);
      // A body left unread cannot be skipped on a kept-alive connection.
      if (err instanceof HttpFailure && err.status === 413) res.setHeader('connection', 'close');
      if (!res.headersSent) send(res, status, body);
      else res.destroy();
    }
  }

  private toError(err: unknown): { status: number; body: HttpErrorView } {
    if (err instanceof HttpFailure) {
      const code = err.status === 404 ? ErrorCodes.notFound : ErrorCodes.validationFailed;
      return { status: err.status, body: { error: { code, message: err.message, details: [] } } };
    }
    if (err instanceof JoinUnavailableError) {
      return { status: 503, body: { error: { code: ErrorCodes.internal, message: err.message, details: [] } } };
    }
    const answer = toHttpError(err);
    if (answer.status >= 500) this.logger.error('join failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    return answer;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpFailure(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpFailure(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(bytes: Buffer): unknown {
  const parsed = parseJsonBytes(bytes);
  if (!parsed.ok) throw new HttpFailure(400, parsed.problem);
  return parsed.value;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // The answer can carry broker credentials: no cache may keep it.
  sendJson(res, status, body, { 'cache-control': 'no-store' });
}
