import { createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Mode, serveRequests, type SinkStats } from './ipc';

/**
 * The far end of every path, in a process of its own (forked by bench/comms.ts): a
 * connection whose first byte is 'E' gets every following byte echoed; one whose first
 * byte is 'S' is a sink that counts what arrives. The orchestrator reads the sink's
 * count over IPC, so throughput is measured where the bytes land, not where they leave.
 */

let sink: SinkStats = { bytes: 0, firstMs: 0, lastMs: 0, closed: true };

function onConnection(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.once('data', (first: Buffer) => {
    const rest = first.subarray(1);
    if (first[0] === Mode.sink) {
      const stats: SinkStats = { bytes: 0, firstMs: 0, lastMs: 0, closed: false };
      sink = stats;
      const count = (chunk: Buffer): void => {
        const now = performance.now();
        if (stats.bytes === 0) stats.firstMs = now;
        stats.bytes += chunk.length;
        stats.lastMs = now;
      };
      if (rest.length > 0) count(rest);
      socket.on('data', count);
      socket.on('close', () => (stats.closed = true));
      socket.resume();
    } else if (first[0] === Mode.echo) {
      if (rest.length > 0) socket.write(rest);
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
    } else {
      socket.destroy();
    }
  });
}

const server = createServer({ noDelay: true }, onConnection);
server.listen(0, '127.0.0.1', 1024, () => {
  process.send?.({ ready: (server.address() as AddressInfo).port });
});

serveRequests(async (body) => {
  if (body.task === 'sinkStats') return { ...sink };
  if (body.task === 'sinkReset') return (sink = { bytes: 0, firstMs: 0, lastMs: 0, closed: true });
  throw new Error(`unknown task ${body.task}`);
});
process.on('SIGTERM', () => process.exit(0));
