import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpPackageFetcher, PackageDownloadError } from './package-fetcher';

const body = Buffer.alloc(64 * 1024, 7);
const sha256 = createHash('sha256').update(body).digest('hex');

/** A plane that sends the package whole, or its first half and then drops the connection. */
async function startPlane(t: { after(fn: () => unknown): void }, cut: boolean): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length });
    if (!cut) {
      res.end(body);
      return;
    }
    res.write(body.subarray(0, body.length / 2), () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('HttpPackageFetcher', () => {
  test('a whole package is returned', async (t) => {
    const fetcher = new HttpPackageFetcher(await startPlane(t, false));
    assert.deepEqual(await fetcher.fetch('demo', '1.0.0', sha256), body);
  });

  test('a package cut short (the plane restarted mid-download) is a download error, which the role engine retries', async (t) => {
    const fetcher = new HttpPackageFetcher(await startPlane(t, true));
    await assert.rejects(fetcher.fetch('demo', '1.0.0', sha256), (err: unknown) => err instanceof PackageDownloadError && /cut short/.test(err.message));
  });

  test('a body larger than allowed is cut off as it arrives, even without a content-length', async (t) => {
    let finished: (sentWhole: boolean) => void = () => undefined;
    const sentWhole = new Promise<boolean>((resolve) => (finished = resolve));
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' }); // chunked: no length to check up front
      let sent = 0;
      const more = (): void => {
        while (sent < 256 * 1024 * 1024) {
          sent += body.length;
          if (!res.write(body)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => finished(res.writableFinished));
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const fetcher = new HttpPackageFetcher(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: 60_000, maxBytes: 1024 * 1024 });
    await assert.rejects(fetcher.fetch('demo', '1.0.0', sha256), (err: unknown) => err instanceof PackageDownloadError && err.message === 'package demo 1.0.0 is larger than 1048576 bytes');
    assert.equal(await sentWhole, false, 'the download was abandoned, not read to its end');
  });
});
