// Test fixtures: tar archives written byte by byte, so a test can say exactly what a hostile
// package holds (real packers sanitise paths). Kept apart from tar-writer.ts on purpose: the
// reader is checked against an independent writer, not against its own twin.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface RawEntry {
  name: string;
  /** ustar typeflag; '0' regular file by default. */
  type?: string;
  mode?: number;
  content?: Buffer | string;
  linkname?: string;
  /** ustar prefix field (POSIX headers only). */
  prefix?: string;
  /** Header flavour; 'posix' by default. */
  magic?: 'posix' | 'gnu' | 'none';
  /** Overrides the size field (the content written stays as given). */
  size?: number;
  badChecksum?: boolean;
}

export function rawHeader(entry: RawEntry): Buffer {
  const content = toBuffer(entry.content);
  const block = Buffer.alloc(512);
  Buffer.from(entry.name, 'utf8').copy(block, 0, 0, 100);
  octal(block, 100, 8, entry.mode ?? 0o644);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, entry.size ?? content.length);
  octal(block, 136, 12, 0);
  block.write(entry.type ?? '0', 156, 1, 'latin1');
  Buffer.from(entry.linkname ?? '', 'utf8').copy(block, 157, 0, 100);
  const magic = entry.magic ?? 'posix';
  if (magic === 'posix') block.write('ustar\u000000', 257, 8, 'latin1');
  if (magic === 'gnu') block.write('ustar  \u0000', 257, 8, 'latin1');
  if (magic === 'posix' && entry.prefix !== undefined) Buffer.from(entry.prefix, 'utf8').copy(block, 345, 0, 155);
  block.fill(' ', 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0) + (entry.badChecksum === true ? 1 : 0);
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

export function rawMember(entry: RawEntry): Buffer {
  const content = toBuffer(entry.content);
  return Buffer.concat([rawHeader(entry), content, Buffer.alloc((512 - (content.length % 512)) % 512)]);
}

/** A pax extended header ('x', or 'g' for global) carrying the given records. */
export function paxMember(records: Record<string, string>, type: 'x' | 'g' = 'x'): Buffer {
  const body = Object.entries(records)
    .map(([key, value]) => {
      const rest = ` ${key}=${value}\n`;
      let length = Buffer.byteLength(rest) + 1;
      while (String(length).length + Buffer.byteLength(rest) !== length) length = String(length).length + Buffer.byteLength(rest);
      return `${length}${rest}`;
    })
    .join('');
  return rawMember({ name: 'PaxHeader', type, content: body });
}

/** A GNU long name ('L') or long link name ('K') for the next member. */
export function gnuLongMember(type: 'L' | 'K', value: string): Buffer {
  return rawMember({ name: '././@LongLink', type, magic: 'gnu', content: `${value}\u0000` });
}

export function rawTar(members: Array<RawEntry | Buffer>, options: { endMarker?: boolean } = {}): Buffer {
  const parts = members.map((member) => (Buffer.isBuffer(member) ? member : rawMember(member)));
  if (options.endMarker !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawPackage(members: Array<RawEntry | Buffer>, options: { endMarker?: boolean } = {}): Buffer {
  return gzipSync(rawTar(members, options));
}

/**
 * A package far larger inflated than compressed (a decompression bomb): `before`, then `unit`
 * repeated to about `inflatedBytes`, then `after` and the end marker. The repeated part is
 * compressed once and its gzip member repeated (gunzip reads concatenated members as one
 * stream), so building it costs a few milliseconds, not the inflated size.
 */
export function inflatingPackage(spec: { before?: Array<RawEntry | Buffer>; unit: Buffer; inflatedBytes: number; after?: Array<RawEntry | Buffer> }): {
  buf: Buffer;
  inflatedBytes: number;
} {
  const run = Buffer.concat(Array<Buffer>(Math.ceil((4 * 1024 * 1024) / spec.unit.length)).fill(spec.unit));
  const copies = Math.ceil(spec.inflatedBytes / run.length);
  const head = rawTar(spec.before ?? [], { endMarker: false });
  const tail = rawTar(spec.after ?? []);
  const buf = Buffer.concat([gzipSync(head), ...Array<Buffer>(copies).fill(gzipSync(run, { level: 9 })), gzipSync(tail)]);
  return { buf, inflatedBytes: head.length + copies * run.length + tail.length };
}

/** The bomb of the tests: about 1.5 MB of gzip inflating to 800 MiB of pax global headers (60 KiB comments each) after `before`. */
export function paxHeaderBomb(before: Array<RawEntry | Buffer> = validRoleEntries()): { buf: Buffer; inflatedBytes: number } {
  return inflatingPackage({ before, unit: paxMember({ comment: 'x'.repeat(60 * 1024) }, 'g'), inflatedBytes: 800 * 1024 * 1024 });
}

export const VALID_MANIFEST = {
  name: 'demo',
  version: '1.0.0',
  hooks: { configure: 'bin/configure', status: 'bin/status' },
};

/** role.json plus its two executable hooks. */
export function validRoleEntries(manifest: unknown = VALID_MANIFEST): RawEntry[] {
  return [
    { name: 'role.json', content: JSON.stringify(manifest) },
    { name: 'bin/', type: '5', mode: 0o755 },
    { name: 'bin/configure', mode: 0o755, content: '#!/bin/sh\ncat > config.json\n' },
    { name: 'bin/status', mode: 0o755, content: '#!/bin/sh\nexit 0\n' },
  ];
}

/** A fresh temporary directory, removed when `after` runs its callbacks. */
export async function tempDir(after: (fn: () => Promise<void>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'role-package-test-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function toBuffer(content: Buffer | string | undefined): Buffer {
  if (content === undefined) return Buffer.alloc(0);
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}
