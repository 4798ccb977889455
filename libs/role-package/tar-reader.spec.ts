import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gnuLongMember, paxMember, rawMember, rawTar, type RawEntry } from './raw-tar.fixtures';
import { readTar, TarFormatError, type TarHeader } from './tar-reader';

interface ReadMember {
  header: Omit<TarHeader, 'offset'>;
  content: string;
}

/** Feeds the archive in small, odd-sized chunks so that headers and content straddle chunk boundaries. */
async function* inChunks(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let at = 0; at < buf.length; at += size) yield buf.subarray(at, at + size);
}

async function readAll(tar: Buffer): Promise<ReadMember[]> {
  const members: ReadMember[] = [];
  await readTar(inChunks(tar), (header) => {
    const { offset: _offset, ...rest } = header;
    const member: ReadMember = { header: rest, content: '' };
    members.push(member);
    return {
      write: (chunk) => void (member.content += chunk.toString('utf8')),
      end: () => undefined,
    };
  });
  return members;
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
});
