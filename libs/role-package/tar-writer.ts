import { paddingFor, TAR_BLOCK_SIZE } from './tar-reader';

/** A member to write; everything that could vary between machines (owner, times) is fixed by the writer. */
export interface TarMember {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  /** File content; empty for the other types. */
  content: Buffer;
  linkTarget?: string;
}

const NAME_FIELD_BYTES = 100;
const TYPEFLAGS = { file: '0', directory: '5', symlink: '2' } as const;
const PAX_HEADER_NAME = 'PaxHeader';
/** 2000-01-01T00:00:00Z: any fixed time makes builds reproducible; 0 makes GNU tar warn on extraction. */
export const FIXED_MTIME_SECONDS = 946_684_800;

export const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);

/** The header block(s), content and padding of one member: POSIX ustar, with a pax header for long names. */
export function encodeMember(member: TarMember): Buffer[] {
  const name = member.type === 'directory' ? `${member.path}/` : member.path;
  const linkTarget = member.linkTarget ?? '';
  const blocks: Buffer[] = [];
  const pax = new Map<string, string>();
  if (Buffer.byteLength(name) > NAME_FIELD_BYTES) pax.set('path', name);
  if (Buffer.byteLength(linkTarget) > NAME_FIELD_BYTES) pax.set('linkpath', linkTarget);
  if (pax.size > 0) {
    const records = encodePaxRecords(pax);
    blocks.push(encodeHeader({ name: PAX_HEADER_NAME, typeflag: 'x', mode: 0o644, size: records.length, linkTarget: '' }));
    blocks.push(records, Buffer.alloc(paddingFor(records.length)));
  }
  blocks.push(encodeHeader({ name, typeflag: TYPEFLAGS[member.type], mode: member.mode, size: member.content.length, linkTarget }));
  if (member.content.length > 0) blocks.push(member.content, Buffer.alloc(paddingFor(member.content.length)));
  return blocks;
}

interface HeaderFields {
  name: string;
  typeflag: string;
  mode: number;
  size: number;
  linkTarget: string;
}

function encodeHeader(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  // Buffer.write stops before a character that would not fit, so long names are cut cleanly (pax holds them whole).
  block.write(fields.name, 0, NAME_FIELD_BYTES, 'utf8');
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, FIXED_MTIME_SECONDS);
  block.write(fields.typeflag, 156, 1, 'latin1');
  block.write(fields.linkTarget, 157, NAME_FIELD_BYTES, 'utf8');
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  block.fill(0x20, 148, 156);
  let checksum = 0;
  for (const byte of block) checksum += byte;
  block.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new RangeError(`${value} does not fit a ${length}-byte tar header field`);
  block.write(`${digits.padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

/** "<length> <key>=<value>\n", where the length counts its own digits. */
function encodePaxRecords(records: Map<string, string>): Buffer {
  const encoded = [...records].map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    const bodyBytes = Buffer.byteLength(body);
    let length = bodyBytes + 1;
    while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
    return Buffer.from(`${length}${body}`, 'utf8');
  });
  return Buffer.concat(encoded);
}
