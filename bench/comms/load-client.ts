import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Mode, serveRequests, type BulkResult, type ClientTask, type ConnectionsResult, type PingPongResult } from './ipc';

/**
 * The near end of every path, in a process of its own (forked by bench/comms.ts), so that
 * neither the orchestrator nor any proxy shares its event loop. Plain TCP to the path's
 * entry (the server itself, or the host side of a proxy pair), as a local AMQP or HTTP
 * client connects to comms.
 */

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    socket.once('connect', () => (socket.off('error', reject), resolve(socket)));
    socket.once('error', reject);
  });
}

/** Resolves on 'drain'; rejects if the socket closes first. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => (socket.off('close', onClose), resolve());
    const onClose = (): void => (socket.off('drain', onDrain), reject(new Error('the connection closed during the bulk transfer')));
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

function closed(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => (socket.destroy(), resolve()), timeoutMs);
    socket.once('close', () => (clearTimeout(timer), resolve()));
  });
}

/** One stream into the sink, as fast as the path takes it, for `seconds`. */
async function bulk(port: number, seconds: number, chunkBytes: number): Promise<BulkResult> {
  const socket = await open(port);
  socket.on('error', () => undefined);
  socket.write(Buffer.from([Mode.sink]));
  const chunk = Buffer.alloc(chunkBytes, 0x5a);
  const started = performance.now();
  const until = started + seconds * 1000;
  let sentBytes = 0;
  while (performance.now() < until) {
    sentBytes += chunk.length;
    if (!socket.write(chunk)) await drained(socket);
  }
  const elapsed = (performance.now() - started) / 1000;
  socket.end();
  await closed(socket, 10_000);
  return { sentBytes, seconds: elapsed };
}

/** `warmup` + `count` round trips of `size` bytes, one at a time, on one connection. */
async function pingpong(port: number, warmup: number, count: number, size: number): Promise<PingPongResult> {
  const socket = await open(port);
  socket.write(Buffer.from([Mode.echo]));
  const payload = Buffer.alloc(size, 0x70);
  const samples = new Float64Array(count);
  await new Promise<void>((resolve, reject) => {
    let index = -warmup;
    let received = 0;
    let sentAt = process.hrtime.bigint();
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < size) return;
      const now = process.hrtime.bigint();
      received -= size;
      if (index >= 0) samples[index] = Number(now - sentAt) / 1000;
      index += 1;
      if (index >= count) return resolve();
      sentAt = process.hrtime.bigint();
      socket.write(payload);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`the connection closed after ${index + warmup} round trips`)));
    socket.write(payload);
  });
  socket.removeAllListeners('close');
  socket.destroy();
  // Rounded to 0.1 µs: the samples travel back as JSON.
  return { count, samplesUs: Array.from(samples, (us) => Math.round(us * 10) / 10) };
}

/** One whole connection: connect, one round trip of `size` bytes, close. */
function oneConnection(port: number, payload: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    let received = 0;
    const timer = setTimeout(() => fail(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => (clearTimeout(timer), socket.destroy(), reject(err));
    socket.once('connect', () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= payload.length - 1) {
        clearTimeout(timer);
        socket.removeAllListeners('close');
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', (err) => fail(err));
    socket.on('close', () => fail(new Error('closed before the echo')));
  });
}

/** New connections, `concurrency` at a time, started until `seconds` have passed. */
async function connections(port: number, seconds: number, concurrency: number, size: number): Promise<ConnectionsResult> {
  const payload = Buffer.concat([Buffer.from([Mode.echo]), Buffer.alloc(size, 0x63)]);
  const started = performance.now();
  const until = started + seconds * 1000;
  let completed = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      try {
        await oneConnection(port, payload, 10_000);
        completed += 1;
      } catch (err) {
        failed += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
        // A path that refuses everything must not spin.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { completed, failed, seconds: (performance.now() - started) / 1000, firstError };
}

serveRequests(async (body) => {
  const task = body as ClientTask;
  switch (task.task) {
    case 'bulk':
      return bulk(task.port, task.seconds, task.chunkBytes);
    case 'pingpong':
      return pingpong(task.port, task.warmup, task.count, task.size);
    case 'connections':
      return connections(task.port, task.seconds, task.concurrency, task.size);
    default:
      throw new Error(`unknown task ${(body as { task: string }).task}`);
  }
});
process.send?.({ ready: process.pid });
process.on('SIGTERM', () => process.exit(0));
