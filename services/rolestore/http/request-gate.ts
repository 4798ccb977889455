import type { NextFunction, Request, Response } from 'express';
import { ErrorCodes, type HttpErrorView } from '#contracts';

/**
 * What a request must be before any route sees it, so that a browser is no way around the
 * operators' tokens: addressed to a name the plane answers to (a web page that DNS rebinding
 * points at the plane sends its own name in Host, and gets nothing), and with a body only of
 * the types the API takes (an HTML form can send text/plain, urlencoded and multipart without
 * a preflight; none is taken: 415). Cookies are never read: a token is sent in Authorization only.
 */
export function requestGate(options: { hostnames: readonly string[] }): (req: Request, res: Response, next: NextFunction) => void {
  const allowed = new Set(options.hostnames.map((name) => name.toLowerCase()));
  return (req, res, next) => {
    const host = hostnameOf(req.headers.host);
    if (host === null || !allowed.has(host)) {
      refuse(res, 421, ErrorCodes.forbidden, `this plane does not answer to the host name ${host === null ? '(none)' : `"${host.slice(0, 100)}"`}: set PF9_API_HOSTNAMES to the names it is reached by`);
      return;
    }
    if (hasBody(req)) {
      const type = mediaTypeOf(req);
      const packageUpload = isPackageUpload(req);
      // A package upload with a JSON body is a mistake the route itself answers (400), not a form's way in.
      const accepted = packageUpload ? PACKAGE_OR_JSON_TYPES : JSON_TYPES;
      if (!accepted.has(type)) {
        refuse(res, 415, ErrorCodes.validationFailed, `the body must be ${packageUpload ? 'a role package sent as application/gzip' : 'application/json'}, not ${type === '' ? 'untyped' : type}`);
        return;
      }
    }
    next();
  };
}

const JSON_TYPES: ReadonlySet<string> = new Set(['application/json']);
const PACKAGE_OR_JSON_TYPES: ReadonlySet<string> = new Set(['application/gzip', 'application/x-gzip', 'application/octet-stream', ...JSON_TYPES]);

/** The request's media type, without parameters, lower case ('' when none). */
export function mediaTypeOf(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** `POST /v1/roles`, as the router matches it (case-insensitive, a trailing slash allowed). */
export function isPackageUpload(req: Request): boolean {
  return req.method === 'POST' && /^\/v1\/roles\/?$/i.test(req.path);
}

/** The Host header's name without its port, lower case; an IPv6 literal without its brackets. */
export function hostnameOf(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return null;
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return bracketed[1]!;
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(value);
  return plain ? plain[1]! : null;
}

export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function refuse(res: Response, status: number, code: HttpErrorView['error']['code'], message: string): void {
  // The body of a refused request is not read: the connection does not carry it over to the next one.
  res.setHeader('connection', 'close');
  res.status(status).json({ error: { code, message, details: [] } } satisfies HttpErrorView);
}
