import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ErrorCodes, ROLE_NAME_PATTERN, SEMVER_PATTERN, type HttpErrorView } from '#contracts';
import { Logger } from '#logging';
import { toHttpError } from '../http/http-errors';
import { listenPlainHttp, sendJson } from '../http/plain-http-server';
import { RolesService } from './roles.service';

const PACKAGE_PATH = /^\/v1\/roles\/([^/]+)\/([^/]+)\/package$/;
/** How long a closing listener lets downloads in flight go on. */
const DOWNLOADS_FINISH_MS = 5_000;

/**
 * What hosts fetch over HTTP, alone on its own port: `GET /v1/roles/:name/:version/package`
 * and nothing else. The ingress's `pf9-http` route leads here rather than to the REST API,
 * which is the operators' (it assigns roles, whose hooks run as root on every host, and
 * makes join tokens): a host, or anyone on it who can reach comms's local port, gets the
 * packages and no way to command the fleet. Plain node:http, like the join listener.
 */
@Injectable()
export class HostPackagesHttpListener implements BeforeApplicationShutdown {
  private server: Server | null = null;
  private readonly logger: Logger;

  constructor(
    @Inject(RolesService) private readonly roles: Pick<RolesService, 'download'>,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'host-packages-http' });
  }

  /** Starts listening; answers the base URL. */
  async listen(port: number, host: string): Promise<string> {
    // Receiving a request takes a host little; sending a package is not limited by this.
    const { server, url } = await listenPlainHttp((req, res) => void this.handle(req, res), { port, host, requestTimeoutMs: 30_000 });
    // A client that half-closes after its request (it has nothing more to send) still gets
    // the answer: node's default ends such a connection before the package is looked up.
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.server = server;
    this.logger.info('host package listener ready', { url });
    return url;
  }

  /**
   * Stops accepting; downloads in flight get a few seconds to finish, then are cut (a host
   * retries a package it did not get whole).
   */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), DOWNLOADS_FINISH_MS);
    await closed;
    clearTimeout(cut);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    const match = PACKAGE_PATH.exec(path);
    if (match === null) {
      sendError(res, 404, ErrorCodes.notFound, `no route ${req.method ?? ''} ${path}: this port only serves GET /v1/roles/:name/:version/package`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendError(res, 405, ErrorCodes.validationFailed, `${path} takes GET and HEAD only`);
      return;
    }
    const [name, version] = [decode(match[1]), decode(match[2])];
    // Only names and versions the contract allows are looked up (no path is built from others).
    if (name === undefined || version === undefined || !ROLE_NAME_PATTERN.test(name) || !SEMVER_PATTERN.test(version)) {
      sendError(res, 404, ErrorCodes.notFound, `role ${match[1]} ${match[2]} is not known`);
      return;
    }
    let pkg: Awaited<ReturnType<RolesService['download']>>;
    try {
      pkg = await this.roles.download(name, version);
    } catch (err) {
      const { status, body } = toHttpError(err);
      if (status >= 500) this.logger.error('package lookup failed', { role: name, version, err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      send(res, status, body);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/gzip',
      'content-length': pkg.size,
      'content-disposition': `attachment; filename="${name}-${version}.tar.gz"`,
      'x-pf9-sha256': pkg.sha256,
      etag: `"${pkg.sha256}"`,
    });
    if (req.method === 'HEAD') {
      pkg.stream.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(pkg.stream, res);
    } catch (err) {
      // The host went away, or the file could not be read: the short body tells the host.
      this.logger.warn('package download cut short', { role: name, version, err: err instanceof Error ? err.message : String(err) });
      res.destroy();
    }
  }
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code, message, details: [] } } satisfies HttpErrorView);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // A refused request's body, if any, is not read: the connection is not reused.
  sendJson(res, status, body, { connection: 'close' });
}
