import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { parseJsonBytes } from '#contracts';
import type { MessageContext } from '#amqp';

/** What an audited call was about, and where it came from, read the same way on both transports. */
export interface AuditSubject {
  target: string;
  source: string;
  /** The arguments the target was read from (path parameters and body, or the message). */
  input: Record<string, unknown>;
}

export function auditSubject(context: ExecutionContext, action: string): AuditSubject {
  let input: Record<string, unknown>;
  let source: string;
  if (context.getType() === 'http') {
    const req = context.switchToHttp().getRequest<Request>();
    // What a route acts on is in its path; a body is read only where the route takes its subject from it.
    input = { ...(BODY_NAMES_TARGET.has(action) ? bodyFields(req.body) : {}), ...req.params };
    source = `http:${req.socket.remoteAddress ?? 'unknown'}`;
  } else {
    const message: unknown = context.switchToRpc().getData();
    input = isRecord(message) ? message : {};
    source = `amqp:${context.switchToRpc().getContext<MessageContext>().userId ?? 'anonymous'}`;
  }
  return { target: targetOf(action, input), source, input };
}

/** Routes whose subject is in the body, not the path: the token's name, the host a join token is for. */
const BODY_NAMES_TARGET: ReadonlySet<string> = new Set(['token.create', 'join-token.create']);

/** host/<id>, host/<id>/role/<role>, token/<id or name>, role/<name>/<version>, join-token[/host/<id>]. */
export function targetOf(action: string, input: Record<string, unknown>, result?: unknown): string {
  const text = (key: string): string => (typeof input[key] === 'string' ? String(input[key]).slice(0, 200) : '?');
  const host = typeof input.hostId === 'string' ? text('hostId') : text('id');
  switch (action) {
    case 'host.authorize':
    case 'host.deauthorize':
    case 'host.decommission':
      return `host/${host}`;
    case 'role.assign':
    case 'role.unassign':
    case 'role.retry':
      return `host/${host}/role/${text('role')}`;
    case 'role.upload':
      return isRecord(result) && typeof result.name === 'string' && typeof result.version === 'string' ? `role/${result.name}/${result.version}` : 'role';
    case 'token.create':
      return isRecord(result) && typeof result.id === 'string' ? `token/${result.id}` : `token/${text('name')}`;
    case 'token.revoke':
      return `token/${text('id')}`;
    case 'join-token.create':
      return typeof input.hostId === 'string' ? `join-token/host/${text('hostId')}` : 'join-token';
    default:
      return Object.keys(input).length === 0 ? action : JSON.stringify(input).slice(0, 200);
  }
}

/** A JSON body's fields, for naming the target only (the route validates the body itself). */
function bodyFields(body: unknown): Record<string, unknown> {
  if (!Buffer.isBuffer(body) || body.length === 0 || body.length > 64 * 1024) return {};
  const parsed = parseJsonBytes(body);
  return parsed.ok && isRecord(parsed.value) ? parsed.value : {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
