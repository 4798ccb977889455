import { promises as fs } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { errnoCode } from './atomic-file';

/**
 * nodelet's control socket: a Unix socket under its state folder (mode 0600, in a folder
 * of mode 0700), one JSON request per connection and one JSON answer. Whoever listens on
 * it owns the node's phases: the daemon, or a `nodeletd` command run while no daemon
 * runs (so that a daemon starting meanwhile waits for it). The `nodeletd` CLI acts
 * through it and never behind the daemon's back.
 */
export type ControlRequest = { cmd: string } & Record<string, unknown>;
export type ControlAnswer = { ok: true; result: unknown } | { ok: false; error: string; result?: unknown };
export type ControlHandler = (request: ControlRequest) => Promise<ControlAnswer>;

const MAX_REQUEST_BYTES = 64 * 1024;
/** sockaddr_un holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export class SocketBusyError extends Error {
  constructor(readonly path: string) {
    super(`another nodelet process listens on ${path}`);
    this.name = 'SocketBusyError';
  }
}

export interface ControlServer {
  close(): Promise<void>;
}

/** Listens on `path`; a stale socket file (nobody answers) is replaced, a live one is SocketBusyError. */
export async function listenControl(path: string, handler: ControlHandler): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new Error(`the control socket path is too long for a Unix socket (${Buffer.byteLength(path)} bytes): ${path}`);
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await fs.chmod(dirname(path), 0o700);
  const server = createServer((socket) => serve(socket, handler));
  try {
    await listen(server, path);
  } catch (err) {
    if (errnoCode(err) !== 'EADDRINUSE') throw err;
    if (await answers(path)) throw new SocketBusyError(path);
    await fs.rm(path, { force: true });
    await listen(server, path);
  }
  await fs.chmod(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Unlinking is the server's own doing on close; make sure even if a client lingers.
        void fs.rm(path, { force: true }).catch(() => undefined);
      }),
  };
}

/** Sends one request; null when nobody listens (no daemon, no lock holder). */
export async function requestControl(path: string, request: ControlRequest, timeoutMs = 0): Promise<ControlAnswer | null> {
  return new Promise<ControlAnswer | null>((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`nodelet did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end === -1) return;
      if (timer) clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffer.slice(0, end)) as ControlAnswer);
      } catch {
        reject(new Error('nodelet answered something that is not JSON'));
      }
    });
    socket.once('error', (err) => {
      if (timer) clearTimeout(timer);
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ECONNREFUSED') resolve(null);
      else reject(err);
    });
    socket.once('close', () => {
      if (timer) clearTimeout(timer);
      if (!buffer.includes('\n')) reject(new Error('nodelet closed the connection without answering'));
    });
  });
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buffer = '';
  let handled = false;
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    if (handled) return;
    buffer += chunk;
    if (buffer.length > MAX_REQUEST_BYTES) {
      handled = true;
      socket.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
      return;
    }
    const end = buffer.indexOf('\n');
    if (end === -1) return;
    handled = true;
    let request: ControlRequest;
    try {
      const parsed = JSON.parse(buffer.slice(0, end)) as unknown;
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { cmd?: unknown }).cmd !== 'string') throw new Error('no cmd');
      request = parsed as ControlRequest;
    } catch {
      socket.end(`${JSON.stringify({ ok: false, error: 'a request is one JSON object with a cmd' })}\n`);
      return;
    }
    handler(request).then(
      (answer) => socket.end(`${JSON.stringify(answer)}\n`),
      (err: unknown) => socket.end(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`),
    );
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
