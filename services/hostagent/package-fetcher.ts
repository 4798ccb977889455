import { sha256Hex } from '#role-package';

export interface PackageSource {
  fetch(name: string, version: string, expectedSha256: string): Promise<Buffer>;
}

export class PackageDownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackageDownloadError';
  }
}

/** Downloads role packages from the plane's repository and checks them against the recorded sha256. */
export class HttpPackageFetcher implements PackageSource {
  constructor(
    private readonly apiUrl: string,
    private readonly options: { timeoutMs: number; maxBytes: number } = { timeoutMs: 120_000, maxBytes: 512 * 1024 * 1024 },
    /** How to reach the plane (through pf9-comms's socket on a host). */
    private readonly doFetch: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  async fetch(name: string, version: string, expectedSha256: string): Promise<Buffer> {
    const url = `${this.apiUrl.replace(/\/$/, '')}/v1/roles/${encodeURIComponent(name)}/${encodeURIComponent(version)}/package`;
    let response: Response;
    try {
      response = await this.doFetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      throw new PackageDownloadError(`cannot download ${name} ${version} from ${url}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    if (!response.ok) throw new PackageDownloadError(`cannot download ${name} ${version}: the plane answered ${response.status}`);
    const tooLarge = new PackageDownloadError(`package ${name} ${version} is larger than ${this.options.maxBytes} bytes`);
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > this.options.maxBytes) throw tooLarge;
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      // Counted as it arrives: a body without a length (or with a false one) is cut off at the limit, not held whole.
      for await (const chunk of response.body ?? []) {
        received += chunk.length;
        if (received > this.options.maxBytes) break;
        chunks.push(Buffer.from(chunk));
      }
    } catch (err) {
      // Cut short (the plane restarted, the connection broke, the timeout): worth another try.
      throw new PackageDownloadError(`cannot download ${name} ${version} from ${url}: the body was cut short (${(err as Error).cause ?? (err as Error).message})`);
    }
    if (received > this.options.maxBytes) throw tooLarge;
    const bytes = Buffer.concat(chunks);
    const actual = sha256Hex(bytes);
    // Not a download error: a package that differs from what the plane recorded is refused, not retried.
    if (actual !== expectedSha256) throw new Error(`package ${name} ${version} has sha256 ${actual}, but the plane recorded ${expectedSha256}`);
    return bytes;
  }
}
