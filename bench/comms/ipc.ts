import { fork, type ChildProcess } from 'node:child_process';

/**
 * What the bench's orchestrator says to its two helper processes (the load client and the
 * echo/sink server) over Node's IPC channel. Messages only pass before and after a
 * measurement, never during one.
 */

/** The first byte of every connection to the echo/sink server says what it is for. */
export const Mode = { echo: 0x45 /* 'E' */, sink: 0x53 /* 'S' */ } as const;

export type ClientTask =
  | { task: 'bulk'; port: number; seconds: number; chunkBytes: number }
  | { task: 'pingpong'; port: number; warmup: number; count: number; size: number }
  | { task: 'connections'; port: number; seconds: number; concurrency: number; size: number };

export interface BulkResult {
  sentBytes: number;
  seconds: number;
}

export interface PingPongResult {
  count: number;
  /** Every measured round trip, in µs, in the order they happened. */
  samplesUs: number[];
}

export interface ConnectionsResult {
  completed: number;
  failed: number;
  seconds: number;
  firstError?: string;
}

export type ServerTask = { task: 'sinkStats' } | { task: 'sinkReset' };

/** Bytes the sink counted on its latest connection, and when the first and last arrived (ms, performance.now()). */
export interface SinkStats {
  bytes: number;
  firstMs: number;
  lastMs: number;
  closed: boolean;
}

interface Envelope {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** A forked helper that answers requests one at a time. */
export class Helper {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  readonly ready: Promise<unknown>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let markReady: (value: unknown) => void = () => undefined;
    let failReady: (err: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => ((markReady = resolve), (failReady = reject)));
    child.on('message', (raw: unknown) => {
      const message = raw as Envelope | { ready: unknown };
      if ('ready' in message) return markReady(message.ready);
      const pending = this.waiting.get(message.id);
      if (!pending) return;
      this.waiting.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${name}: ${message.error ?? 'failed'}`));
    });
    // A send to a helper that has just gone fails through its request, not as a crash here.
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      const err = new Error(`${name} exited (${code ?? signal})`);
      failReady(err);
      for (const pending of this.waiting.values()) pending.reject(err);
      this.waiting.clear();
    });
  }

  static fork(name: string, script: string, args: string[] = [], execArgv: string[] = []): Helper {
    return new Helper(name, fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
  }

  request<T>(body: ClientTask | ServerTask, timeoutMs: number): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer);
        if (this.waiting.delete(id)) reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`${this.name}: no answer to ${body.task} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(id, { resolve: (value) => (clearTimeout(timer), resolve(value as T)), reject: fail });
      if (!this.child.connected) return fail(new Error(`${this.name} is gone`));
      this.child.send({ id, ...body }, (err) => err && fail(err));
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The helper side: answers each request with `handle`, one envelope per request. */
export function serveRequests(handle: (body: ClientTask | ServerTask) => Promise<unknown>): void {
  process.on('message', (raw: unknown) => {
    const { id, ...body } = raw as { id: number } & (ClientTask | ServerTask);
    handle(body as ClientTask | ServerTask).then(
      (result) => process.send?.({ id, ok: true, result } satisfies Envelope),
      (err: unknown) => process.send?.({ id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies Envelope),
    );
  });
  // The orchestrator going away (even killed) closes the channel: leave with it.
  process.on('disconnect', () => process.exit(0));
}
