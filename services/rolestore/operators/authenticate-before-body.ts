import type { NextFunction, Request, Response } from 'express';
import { roleAllows } from '#contracts';
import { hasBody, isPackageUpload } from '../http/request-gate';
import type { OperatorTokensService, Principal } from './operator-tokens.service';

const EARLY = Symbol('hostplane early authentication');

/** What the token of a request with a body proved before the body was read. */
type Early = { principal: Principal } | { error: unknown };

/**
 * No body is read for someone the API will refuse anyway. A request with a body shows its
 * token before a byte of the body is taken: without a valid one (or, for a package upload
 * of up to PF9_MAX_PACKAGE_BYTES, without the operator role) the body is left unread, the
 * connection is closed after the answer, and the guard refuses the request as it would have
 * (and records it). The guard reuses what was found here: one lookup per request.
 */
export function authenticateBeforeBody(tokens: OperatorTokensService): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (!hasBody(req)) {
      next();
      return;
    }
    tokens.authenticate(req.headers.authorization).then(
      (principal) => {
        (req as unknown as Record<symbol, Early>)[EARLY] = { principal };
        if (isPackageUpload(req) && !roleAllows(principal.role, 'operator')) leaveBodyUnread(req, res);
        next();
      },
      (error: unknown) => {
        (req as unknown as Record<symbol, Early>)[EARLY] = { error };
        leaveBodyUnread(req, res);
        next();
      },
    );
  };
}

/** The principal this request's token proved before its body was read; throws what was found then; undefined when it was not looked at. */
export function earlyPrincipalOf(req: Request): Principal | undefined {
  const early = (req as unknown as Record<symbol, Early | undefined>)[EARLY];
  if (early === undefined) return undefined;
  if ('error' in early) throw early.error;
  return early.principal;
}

const UNREAD = Symbol('hostplane body left unread');

function leaveBodyUnread(req: Request, res: Response): void {
  (req as unknown as Record<symbol, boolean>)[UNREAD] = true;
  res.setHeader('connection', 'close');
}

/** For the body parsers' `type` test: false when the body is to stay unread. */
export function bodyMayBeRead(req: Request): boolean {
  return (req as unknown as Record<symbol, boolean | undefined>)[UNREAD] !== true;
}
