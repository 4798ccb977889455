import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { ErrorCodes } from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { HostPackagesHttpListener } from './host-packages.http-listener';

const quiet = new Logger('test', 'error', { write: () => undefined });
const body = Buffer.from('a role package, gzip in real life');

/** A listener whose only package is demo 1.0.0, found after `lookupMs` (a database query); answers its base URL and the lookups made. */
async function start(t: { after(fn: () => unknown): void }, lookupMs = 0): Promise<{ url: string; lookups: string[] }> {
  const lookups: string[] = [];
  const listener = new HostPackagesHttpListener(
    {
      download: async (name, version) => {
        lookups.push(`${name} ${version}`);
        await new Promise((resolve) => setTimeout(resolve, lookupMs));
        if (name !== 'demo' || version !== '1.0.0') throw new ApplicationError(ErrorCodes.notFound, `role ${name} ${version} is not known`);
        return { sha256: 'abc123', size: body.length, stream: Readable.from([body]) };
      },
    },
    quiet,
  );
  const url = await listener.listen(0, '127.0.0.1');
  t.after(() => listener.close());
  return { url, lookups };
}

describe('the host package listener (the ingress pf9-http route)', () => {
  test('serves a package with its sha256, and HEAD its headers', async (t) => {
    const { url } = await start(t);
    const got = await fetch(`${url}/v1/roles/demo/1.0.0/package`);
    assert.equal(got.status, 200);
    assert.deepEqual([got.headers.get('content-type'), got.headers.get('x-pf9-sha256'), got.headers.get('etag')], ['application/gzip', 'abc123', '"abc123"']);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
    const head = await fetch(`${url}/v1/roles/demo/1.0.0/package`, { method: 'HEAD' });
    assert.deepEqual([head.status, head.headers.get('content-length'), head.headers.get('x-pf9-sha256')], [200, String(body.length), 'abc123']);
  });

  test('nothing else: other paths are 404, other methods 405, unknown or malformed roles 404 (malformed ones not even looked up)', async (t) => {
    const { url, lookups } = await start(t);
    const status = async (path: string, init?: RequestInit): Promise<[number, string]> => {
      const res = await fetch(`${url}${path}`, init);
      return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
    };
    assert.deepEqual(await status('/v1/hosts'), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/roles'), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/join-tokens', { method: 'POST', body: '{}' }), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/roles/demo/1.0.0/package', { method: 'PUT', body: 'x' }), [405, 'VALIDATION_FAILED']);
    assert.deepEqual(await status('/v1/roles/demo/2.0.0/package'), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/roles/..%2F..%2Fetc/1.0.0/package'), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/roles/%E0%A4%A/1.0.0/package'), [404, 'NOT_FOUND']);
    assert.deepEqual(await status('/v1/roles/demo/1.0/package'), [404, 'NOT_FOUND']);
    assert.deepEqual(lookups, ['demo 2.0.0']);
  });

  test('a client that half-closes after its request still gets the package, looked up after its end arrived', async (t) => {
    const url = new URL((await start(t, 100)).url);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(url.port), '127.0.0.1', () => socket.end('GET /v1/roles/demo/1.0.0/package HTTP/1.1\r\nhost: plane\r\n\r\n'));
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(answer.endsWith(body.toString()), answer);
  });
});
