import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gnuLongMember, paxMember, rawHeader, rawMember, rawTar, type RawEntry } from './raw-tar.fixtures';
import { readTar, TarFormatError, type TarHeader, type TarLimits } from './tar-reader';

interface ReadMember {
  header: Omit<TarHeader, 'offset'>;
  content: string;
}

/** Feeds the archive in small, odd-sized chunks so that headers and content straddle chunk boundaries. */
async function* inChunks(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

const ROOMY: TarLimits = { maxBytes: 1024 ** 3, maxEntries: 10_000, maxMetadataBytes: 16 * 1024 * 1024 };

async function readAll(tar: Buffer | AsyncIterable<Buffer>, limits: TarLimits = ROOMY): Promise<ReadMember[]> {
  const members: ReadMember[] = [];
  await readTar(Buffer.isBuffer(tar) ? inChunks(tar) : tar, (header) => {
    const { offset: _offset, ...rest } = header;
    const member: ReadMember = { header: rest, content: '' };
    members.push(member);
    return {
      write: (chunk) => void (member.content += chunk.toString('utf8')),
      end: () => undefined,
    };
  }, limits);
  return members;
}

/** `unit` again and again (up to a gigabyte, then an end marker), counting what the reader pulled. */
function endless(unit: (i: number) => Buffer): { source: AsyncIterable<Buffer>; pulled: () => number } {
  let pulled = 0;
  async function* source(): AsyncGenerator<Buffer> {
    for (let i = 0; pulled < 1024 ** 3; i += 1) {
      const chunk = unit(i);
      pulled += chunk.length;
      yield chunk;
    }
    yield Buffer.alloc(1024);
  }
  return { source: source(), pulled: () => pulled };
}

async function refusal(members: Array<RawEntry | Buffer>, options: { endMarker?: boolean } = {}): Promise<string> {
  const error = await readAll(rawTar(members, options)).then(
    () => assert.fail('expected the archive to be refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TarFormatError, `expected a TarFormatError, got ${String(error)}`);
  return error.message;
}

describe('readTar', () => {
  it('reads ustar members, their types, modes and content', async () => {
    const members = await readAll(
      rawTar([
        { name: 'a.txt', mode: 0o640, content: 'x'.repeat(700) },
        { name: 'dir/', type: '5', mode: 0o755 },
        { name: 'link', type: '2', linkname: 'a.txt', mode: 0o777 },
        { name: 'old', type: '\u0000', content: 'v7 regular file flag' },
      ]),
    );
    assert.deepEqual(
      members.map((m) => [m.header.path, m.header.typeflag, m.header.mode, m.header.size, m.header.linkpath]),
      [
        ['a.txt', '0', 0o640, 700, ''],
        ['dir/', '5', 0o755, 0, ''],
        ['link', '2', 0o777, 0, 'a.txt'],
        ['old', '0', 0o644, 20, ''],
      ],
    );
    assert.equal(members[0]?.content, 'x'.repeat(700));
    assert.equal(members[3]?.content, 'v7 regular file flag');
  });

  it('joins the ustar prefix and applies pax and GNU long names', async () => {
    const longName = `${'d'.repeat(120)}/file`;
    const longTarget = `../${'t'.repeat(150)}`;
    const members = await readAll(
      rawTar([
        { name: 'file', prefix: 'some/prefix', content: 'p' },
        paxMember({ path: longName, linkpath: longTarget, mtime: '1.5' }),
        { name: 'truncated', type: '2', linkname: 'short' },
        gnuLongMember('L', 'gnu/long/name'),
        gnuLongMember('K', 'gnu-target'),
        { name: 'ignored', type: '2', magic: 'gnu', linkname: 'ignored' },
      ]),
    );
    assert.deepEqual(
      members.map((m) => [m.header.path, m.header.linkpath]),
      [
        ['some/prefix/file', ''],
        [longName, longTarget],
        ['gnu/long/name', 'gnu-target'],
      ],
    );
  });

  it('takes the content size from a pax size record', async () => {
    const members = await readAll(rawTar([paxMember({ size: '3' }), { name: 'f', size: 0, content: 'abc' }]));
    assert.equal(members[0]?.header.size, 3);
    assert.equal(members[0]?.content, 'abc');
  });

  it('ignores a global pax header that only carries a comment (as git archive writes)', async () => {
    const members = await readAll(rawTar([paxMember({ comment: 'commit 1234' }, 'g'), { name: 'f', content: 'x' }]));
    assert.deepEqual(members.map((m) => m.header.path), ['f']);
  });

  it('refuses a header whose checksum does not match', async () => {
    assert.match(await refusal([{ name: 'f', badChecksum: true }]), /checksum mismatch at byte 0/);
  });

  it('refuses a header without ustar magic', async () => {
    assert.match(await refusal([{ name: 'f', magic: 'none' }]), /not ustar, pax or GNU/);
  });

  it('refuses an archive without an end-of-archive marker', async () => {
    assert.match(await refusal([{ name: 'f', content: 'x' }], { endMarker: false }), /without an end-of-archive marker/);
  });

  it('refuses content cut short', async () => {
    const tar = rawTar([{ name: 'f', content: 'x'.repeat(600) }], { endMarker: false }).subarray(0, 700);
    await assert.rejects(readAll(tar), /truncated at byte 700/);
  });

  it('refuses data after an end-of-archive block', async () => {
    const tar = Buffer.concat([Buffer.alloc(512), rawMember({ name: 'hidden', content: 'x' })]);
    await assert.rejects(readAll(tar), /unexpected data after an end-of-archive block/);
  });

  it('refuses a global pax header that sets a path', async () => {
    assert.match(await refusal([paxMember({ path: 'evil' }, 'g'), { name: 'f' }]), /global pax header .* sets 'path'/);
  });

  it('refuses two pax headers in a row and one left dangling', async () => {
    assert.match(await refusal([paxMember({ path: 'a' }), paxMember({ path: 'b' }), { name: 'f' }]), /two pax headers in a row/);
    assert.match(await refusal([paxMember({ path: 'a' })]), /not followed by an entry/);
  });

  it('refuses a malformed pax record', async () => {
    assert.match(await refusal([rawMember({ name: 'p', type: 'x', content: '99 path=x\n' }), { name: 'f' }]), /malformed pax record/);
  });

  it('refuses pax sparse files', async () => {
    assert.match(await refusal([paxMember({ 'GNU.sparse.major': '1' }), { name: 'f' }]), /sparse files are not supported/);
  });

  it('counts every byte toward maxBytes: header blocks, padding and end blocks', async () => {
    const tar = rawTar([{ name: 'f', content: 'ten bytes!' }]);
    assert.equal(tar.length, 2048);
    assert.equal((await readAll(tar, { ...ROOMY, maxBytes: 2048 })).length, 1);
    await assert.rejects(readAll(tar, { ...ROOMY, maxBytes: 2047 }), /: package unpacks to more than 2047 bytes$/);
  });

  it('refuses a member whose declared size passes maxBytes before reading its content', async () => {
    const huge = endless((i) => (i === 0 ? rawHeader({ name: 'big', size: 1024 ** 3 }) : Buffer.alloc(64 * 1024)));
    await assert.rejects(readAll(huge.source, { ...ROOMY, maxBytes: 1024 * 1024 }), /: package unpacks to more than 1048576 bytes$/);
    assert.equal(huge.pulled(), 512);
  });

  it('stops pulling as soon as the archive passes maxBytes, whatever it is made of', async () => {
    const members = endless((i) => rawMember({ name: `f${i}` }));
    await assert.rejects(readAll(members.source, { ...ROOMY, maxBytes: 1024 * 1024 }), /: package unpacks to more than 1048576 bytes$/);
    assert.equal(members.pulled(), 1024 * 1024 + 512);
  });

  it('stops pulling as soon as extended headers pass maxMetadataBytes', async () => {
    const unit = paxMember({ comment: 'x'.repeat(60 * 1024) }, 'g');
    const bomb = endless(() => unit);
    await assert.rejects(readAll(bomb.source, { ...ROOMY, maxMetadataBytes: 1024 * 1024 }), /: package's extended headers \(pax, GNU long names\) take more than 1048576 bytes$/);
    assert.ok(bomb.pulled() <= 1024 * 1024 + unit.length, `pulled ${bomb.pulled()} bytes`);
  });

  it('counts pax headers and GNU long names toward maxMetadataBytes, header blocks and padding included', async () => {
    const members = [paxMember({ path: 'a' }), rawMember({ name: 'a' }), gnuLongMember('L', 'b'), rawMember({ name: 'b', magic: 'gnu' })];
    assert.equal((await readAll(rawTar(members), { ...ROOMY, maxMetadataBytes: 4 * 512 })).length, 2);
    await assert.rejects(readAll(rawTar(members), { ...ROOMY, maxMetadataBytes: 4 * 512 - 1 }), /extended headers .* take more than 2047 bytes/);
  });

  it('counts members and global pax headers toward maxEntries', async () => {
    const tar = rawTar([paxMember({ comment: 'a' }, 'g'), { name: 'f' }, paxMember({ comment: 'b' }, 'g')]);
    assert.equal((await readAll(tar, { ...ROOMY, maxEntries: 3 })).length, 1);
    await assert.rejects(readAll(tar, { ...ROOMY, maxEntries: 2 }), /: package has more than 2 entries$/);
  });

  it('refuses a GNU long name or a pax path longer than 4096 bytes', async () => {
    const long = 'n'.repeat(4097);
    assert.equal((await readAll(rawTar([gnuLongMember('L', 'n'.repeat(4096)), { name: 'x', magic: 'gnu' }])))[0]?.header.path.length, 4096);
    await assert.rejects(readAll(rawTar([gnuLongMember('L', long), { name: 'x', magic: 'gnu' }])), /: GNU long name at byte 0 is longer than 4096 bytes$/);
    await assert.rejects(readAll(rawTar([gnuLongMember('K', long), { name: 'x', type: '2', magic: 'gnu' }])), /: GNU long link name at byte 0 is longer than 4096 bytes$/);
    await assert.rejects(readAll(rawTar([paxMember({ path: long }), { name: 'x' }])), /: pax path at byte 0 is longer than 4096 bytes$/);
    await assert.rejects(readAll(rawTar([paxMember({ linkpath: long }), { name: 'x', type: '2' }])), /: pax linkpath at byte 0 is longer than 4096 bytes$/);
  });
});
