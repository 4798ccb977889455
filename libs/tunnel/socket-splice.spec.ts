import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type ServerOpts, type Socket } from 'node:net';
import { abortSocket, SocketSplice } from './socket-splice';

/**
 * client <-> [down | splice | up] <-> server, all plain TCP on loopback: the splice joins
 * the socket accepted from the client with the one it opened to the server.
 */
async function rig(t: TestContext, onServerSocket: (s: Socket) => void): Promise<{ client: Socket; splice: SocketSplice }> {
  const server = await serve(t, { allowHalfOpen: true }, onServerSocket);
  const front = await serve(t, { allowHalfOpen: true, pauseOnConnect: true });
  const accepted = new Promise<Socket>((resolve) => front.once('connection', resolve));
  const client = connect({ host: '127.0.0.1', port: (front.address() as AddressInfo).port, allowHalfOpen: true });
  client.on('error', () => undefined);
  const down = await accepted;
  return { client, splice: new SocketSplice(down, await dial(server)) };
}

/** A server on a free loopback port, closed after the test. */
async function serve(t: TestContext, options: ServerOpts, onConnection?: (s: Socket) => void): Promise<Server> {
  const server = createServer(options, onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => void server.close());
  return server;
}

/** A half-open-capable connection to `server`, once connected. */
async function dial(server: Server): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, allowHalfOpen: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.once('end', () => resolve(got));
  });
}

describe('SocketSplice', () => {
  test('the client ends first: the server sees the end, and its answer still reaches the client', async (t) => {
    const { client, splice } = await rig(t, (s) => {
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('end', () => s.end(`answer to ${got}`));
    });
    client.end('question');
    const answer = await readAll(client);
    client.end();
    assert.equal(answer, 'answer to question');
    const outcome = await splice.done;
    assert.deepEqual(outcome, { upstreamBytes: 8, downstreamBytes: 18, clean: true, error: undefined });
  });

  test('the server ends first: the client reads to the end and still sends its reply', async (t) => {
    let reply: Promise<string> = Promise.resolve('');
    const { client, splice } = await rig(t, (s) => {
      reply = readAll(s);
      s.end('hello, then nothing more from me');
    });
    const greeting = await readAll(client);
    client.end('late reply');
    assert.equal(greeting, 'hello, then nothing more from me');
    assert.equal(await reply, 'late reply');
    assert.equal((await splice.done).clean, true);
  });

  test('a side that is reset takes the other side down: a broken stream never ends cleanly', async (t) => {
    const { client, splice } = await rig(t, (s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.resetAndDestroy());
    });
    const closed = new Promise<boolean>((resolve) => client.once('close', (hadError) => resolve(hadError)));
    let ended = false;
    let error: string | undefined;
    client.on('end', () => (ended = true));
    client.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    client.write('x');
    assert.equal(await closed, true, 'the client connection closed with an error');
    assert.equal(error, 'ECONNRESET');
    assert.equal(ended, false, 'the client saw no orderly end');
    const outcome = await splice.done;
    assert.equal(outcome.clean, false);
    assert.equal(outcome.error?.message.includes('ECONNRESET'), true);
  });

  test('backpressure: a server that does not read stalls the client, nothing piles up in between', async (t) => {
    let serverSocket: Socket | undefined;
    const { client, splice } = await rig(t, (s) => {
      serverSocket = s;
      s.pause();
    });
    const chunk = Buffer.alloc(1024 * 1024);
    const total = 128 * chunk.length;
    let sent = 0;
    void (async () => {
      while (sent < total && !client.destroyed) {
        sent += chunk.length;
        if (!client.write(chunk)) await new Promise((resolve) => (client.once('drain', resolve), client.once('close', resolve)));
      }
    })();
    // Poll (with a deadline) until the client is stalled: nothing more is sent for a while.
    const deadline = Date.now() + 10_000;
    let last = -1;
    while (sent !== last && Date.now() < deadline) {
      last = sent;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(sent < total, `the client stalled after ${sent} of ${total} bytes`);
    assert.ok(splice.upstream.writableLength < 8 * 1024 * 1024, `${splice.upstream.writableLength} bytes queued in the splice towards the server`);
    serverSocket?.destroy();
    client.destroy();
    await splice.done;
  });

  test('a socket whose end is under way is still closed when its partner breaks: no leaked handle, no error', async (t) => {
    // The end goes to the system at once (nothing is left to write before it) and stays pending there a moment.
    const peers: Socket[] = [];
    const server = await serve(t, { allowHalfOpen: true, pauseOnConnect: true }, (peer) => peers.push(peer));
    t.after(() => peers.forEach((peer) => peer.destroy()));
    const socket = await dial(server);
    const errors: string[] = [];
    socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    socket.write('x');
    socket.end();
    abortSocket(socket);
    const outcome = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000))]);
    assert.equal(outcome, true, 'the socket closed (its handle with it)');
    assert.deepEqual(errors, []);
  });

  test('a socket with nothing under way is reset: the peer sees ECONNRESET, not an orderly end', async (t) => {
    let seenBy!: (what: string) => void;
    const seen = new Promise<string>((resolve) => (seenBy = resolve));
    const server = await serve(t, { allowHalfOpen: true }, (peer) => {
      peer.on('error', (err: NodeJS.ErrnoException) => seenBy(err.code ?? err.message));
      peer.on('end', () => seenBy('end'));
      peer.resume();
    });
    const socket = await dial(server);
    socket.write('x');
    abortSocket(socket);
    assert.equal(await seen, 'ECONNRESET');
  });
});
