import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketFetch } from './socket-fetch';

describe('socketFetch: HTTP over a Unix socket', () => {
  test('sends the method, path, headers and body, and answers status, headers and body; a refused socket path is the request\'s error', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'socket-fetch-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'join.sock');
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers.host} ${req.headers['content-type']} ${body}`);
        res.writeHead(201, { 'content-type': 'application/json', 'x-pf9-sha256': 'abc' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const fetchThere = socketFetch(async () => path);
    const res = await fetchThere('http://localhost/v1/join?x=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"t"}' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-pf9-sha256'), 'abc');
    assert.deepEqual(await res.json(), { ok: true });
    assert.deepEqual(seen, ['POST /v1/join?x=1 localhost application/json {"token":"t"}']);

    await assert.rejects(socketFetch(async () => assert.fail('refusing to connect through /x: too open'))('http://localhost/'), /too open/);
    await assert.rejects(socketFetch(async () => join(dir, 'absent.sock'))('http://localhost/'), /ENOENT .*absent\.sock/);
  });
});
