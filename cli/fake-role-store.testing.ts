import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from './cli';
import type { CliEnv } from './cli.config';

// Test support for the CLI's unit tests: a tiny REST server that records what it is sent.

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  /** The Authorization header sent, if any. */
  authorization: string | undefined;
  body: Buffer;
}

export interface FakeResponse {
  status: number;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as it is, for answers that are not JSON. */
  text?: string;
}

type Responder = FakeResponse | ((request: RecordedRequest) => FakeResponse);

export class FakeRoleStore {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Responder>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeRoleStore> {
    let store: FakeRoleStore | undefined;
    const server = createServer((req, res) => {
      if (store) void store.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    store = new FakeRoleStore(server, `http://127.0.0.1:${port}`);
    return store;
  }

  /** Answers `METHOD /path` with `response` from now on. */
  on(method: string, path: string, response: Responder): this {
    this.routes.set(`${method} ${path}`, response);
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      body: Buffer.concat(chunks),
    };
    this.requests.push(request);
    const responder = this.routes.get(`${request.method} ${request.path}`) ?? {
      status: 404,
      json: { error: { code: 'NOT_FOUND', message: `no fake route for ${request.method} ${request.path}`, details: [] } },
    };
    const response = typeof responder === 'function' ? responder(request) : responder;
    if (response.text !== undefined) {
      res.writeHead(response.status, { 'content-type': 'text/plain' }).end(response.text);
    } else {
      res.writeHead(response.status, { 'content-type': 'application/json' }).end(JSON.stringify(response.json ?? null));
    }
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with collected output. */
export async function runCliCollect(argv: readonly string[], options: { env?: CliEnv; cwd?: string } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  });
  return { code, stdout, stderr };
}
