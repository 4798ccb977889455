/**
 * A strict, streaming reader for the tar formats a role package may be written in: POSIX ustar,
 * pax extended headers ('x', and 'g' when it sets nothing we honour) and GNU long names ('L', 'K').
 * Anything else is refused rather than guessed at. It is deliberately the only tar parser in
 * this library: inspecting with one parser and extracting with another invites archives that
 * look harmless to the first and are not to the second.
 */

/** One archive member, after any pax or GNU long-name headers before it are applied. */
export interface TarHeader {
  /** The path exactly as stored (not normalised). */
  path: string;
  /** The ustar typeflag ('0' file, '1' hard link, '2' symlink, '5' directory, ...); NUL is reported as '0'. */
  typeflag: string;
  mode: number;
  size: number;
  linkpath: string;
  /** Offset of the member's header in the uncompressed archive, for messages. */
  offset: number;
}

export interface TarContentSink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

/** Sees each member before its content is read; returns where the content goes, or nothing to skip it. */
export type TarVisitor = (header: TarHeader) => TarContentSink | undefined | Promise<TarContentSink | undefined>;

/**
 * What one archive may cost the reader. Each limit stops the reading as soon as it is passed,
 * and a header that declares more than is left is refused before its content is read, so a
 * small compressed archive that claims or holds gigabytes costs at most one chunk past a limit.
 */
export interface TarLimits {
  /** Uncompressed bytes pulled, everything counted: header blocks, extended headers, content, padding, end blocks. */
  maxBytes: number;
  /** Members plus global pax headers ('x', 'L' and 'K' each belong to the member after them, at most one of each). */
  maxEntries: number;
  /** Extended headers (pax 'x' and 'g', GNU 'L' and 'K') together: their header blocks, records and padding. */
  maxMetadataBytes: number;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

/** The archive may be well formed, but it is larger than the reader accepts. */
export class TarLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarLimitError';
  }
}

export const TAR_BLOCK_SIZE = 512;
/** Pax and GNU long-name headers hold a few names; anything larger is not a role package. */
const MAX_META_BYTES = 64 * 1024;
/** Linux PATH_MAX, its NUL included: no longer path or link target can be extracted. */
const MAX_NAME_BYTES = 4096;
const ZERO_BLOCK = Buffer.alloc(TAR_BLOCK_SIZE);
/** Pax keys we apply to the next member; a global header setting one of them is refused. */
const HONOURED_PAX_KEYS = ['path', 'linkpath', 'size'] as const;

interface PendingMeta {
  pax?: Map<string, string>;
  longName?: string;
  longLink?: string;
}

export async function readTar(source: AsyncIterable<Buffer>, visit: TarVisitor, limits: TarLimits): Promise<void> {
  const chunks = source[Symbol.asyncIterator]();
  const input = new ByteInput(chunks, limits.maxBytes);
  let entries = 0;
  let metadataBytes = 0;
  const countEntry = (): void => {
    entries += 1;
    if (entries > limits.maxEntries) throw new TarLimitError(`package has more than ${limits.maxEntries} entries`);
  };
  try {
    let pending: PendingMeta = {};
    for (;;) {
      const offset = input.position;
      const block = await input.read(TAR_BLOCK_SIZE);
      if (block.length === 0) throw new TarFormatError('archive ends without an end-of-archive marker');
      if (block.length < TAR_BLOCK_SIZE) throw new TarFormatError(`archive is truncated at byte ${offset}`);
      if (block.equals(ZERO_BLOCK)) {
        if (pending.pax || pending.longName !== undefined || pending.longLink !== undefined) {
          throw new TarFormatError(`extended header is not followed by an entry (byte ${offset})`);
        }
        await expectEndOfArchive(input);
        return;
      }
      const raw = parseHeaderBlock(block, offset);
      if (EXTENDED_TYPES.has(raw.typeflag)) {
        metadataBytes += TAR_BLOCK_SIZE + raw.size + paddingFor(raw.size);
        if (metadataBytes > limits.maxMetadataBytes) {
          throw new TarLimitError(`package's extended headers (pax, GNU long names) take more than ${limits.maxMetadataBytes} bytes`);
        }
      }
      switch (raw.typeflag) {
        case 'x':
          if (pending.pax) throw new TarFormatError(`two pax headers in a row at byte ${offset}`);
          pending.pax = parsePaxRecords(await readMeta(input, raw.size, offset), offset);
          for (const key of ['path', 'linkpath']) {
            if (Buffer.byteLength(pending.pax.get(key) ?? '') > MAX_NAME_BYTES) throw new TarLimitError(`pax ${key} at byte ${offset} is longer than ${MAX_NAME_BYTES} bytes`);
          }
          continue;
        case 'g':
          countEntry();
          refuseHonouredGlobalKeys(parsePaxRecords(await readMeta(input, raw.size, offset), offset), offset);
          continue;
        case 'L':
          if (pending.longName !== undefined) throw new TarFormatError(`two GNU long names in a row at byte ${offset}`);
          pending.longName = cString(await readMeta(input, checkNameSize(raw.size, 'GNU long name', offset), offset));
          continue;
        case 'K':
          if (pending.longLink !== undefined) throw new TarFormatError(`two GNU long link names in a row at byte ${offset}`);
          pending.longLink = cString(await readMeta(input, checkNameSize(raw.size, 'GNU long link name', offset), offset));
          continue;
      }
      countEntry();
      const header = applyMeta(raw, pending);
      pending = {};
      if (input.position + header.size + paddingFor(header.size) > limits.maxBytes) {
        throw unpacksToMore(limits.maxBytes);
      }
      const sink = await visit(header);
      await input.forward(header.size, sink ? (chunk) => sink.write(chunk) : undefined);
      if (sink) await sink.end();
      await input.forward(paddingFor(header.size));
    }
  } finally {
    await chunks.return?.();
  }
}

const EXTENDED_TYPES = new Set(['x', 'g', 'L', 'K']);

function unpacksToMore(maxBytes: number): TarLimitError {
  return new TarLimitError(`package unpacks to more than ${maxBytes} bytes`);
}

/** A GNU long name holds a path and its NUL. */
function checkNameSize(size: number, what: string, offset: number): number {
  if (size > MAX_NAME_BYTES + 1) throw new TarLimitError(`${what} at byte ${offset} is longer than ${MAX_NAME_BYTES} bytes`);
  return size;
}

export function paddingFor(size: number): number {
  return (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
}

/** One zero block ends the members; what follows must be a second zero block (or nothing). */
async function expectEndOfArchive(input: ByteInput): Promise<void> {
  const offset = input.position;
  const next = await input.read(TAR_BLOCK_SIZE);
  if (!next.equals(ZERO_BLOCK.subarray(0, next.length))) {
    throw new TarFormatError(`unexpected data after an end-of-archive block (byte ${offset})`);
  }
}

function parseHeaderBlock(block: Buffer, offset: number): TarHeader {
  const storedChecksum = parseNumber(block, 148, 8);
  if (storedChecksum === undefined) throw new TarFormatError(`no tar header at byte ${offset} (bad checksum field)`);
  if (!checksumMatches(block, storedChecksum)) throw new TarFormatError(`header checksum mismatch at byte ${offset}`);

  const magic = block.toString('latin1', 257, 263);
  const posix = magic === 'ustar\0';
  if (!posix && magic !== 'ustar ') throw new TarFormatError(`header at byte ${offset} is not ustar, pax or GNU`);

  const mode = parseNumber(block, 100, 8);
  const size = parseNumber(block, 124, 12);
  if (mode === undefined || size === undefined) throw new TarFormatError(`header at byte ${offset} has a malformed number`);

  const name = cString(block.subarray(0, 100));
  // The ustar prefix field; in GNU headers the same bytes hold other things.
  const prefix = posix ? cString(block.subarray(345, 500)) : '';
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
  return {
    path: prefix === '' ? name : `${prefix}/${name}`,
    typeflag,
    mode,
    size,
    linkpath: cString(block.subarray(157, 257)),
    offset,
  };
}

function checksumMatches(block: Buffer, stored: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i += 1) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** Octal ASCII (space/NUL padded), or GNU base-256 for large positive values. */
function parseNumber(block: Buffer, start: number, length: number): number | undefined {
  const field = block.subarray(start, start + length);
  if ((field[0] & 0x80) !== 0) {
    if (field[0] !== 0x80) return undefined; // negative base-256
    let value = 0;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
}

async function readMeta(input: ByteInput, size: number, offset: number): Promise<Buffer> {
  if (size > MAX_META_BYTES) throw new TarFormatError(`extended header at byte ${offset} is larger than 64 KiB`);
  const data = await input.read(size);
  if (data.length < size) throw new TarFormatError(`archive is truncated at byte ${input.position}`);
  await input.forward(paddingFor(size));
  return data;
}

/** Records are "<length> <key>=<value>\n", the length counting the whole record. */
function parsePaxRecords(data: Buffer, offset: number): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const lengthText = space === -1 ? '' : data.toString('latin1', pos, space);
    const length = /^[1-9][0-9]{0,6}$/.test(lengthText) ? Number(lengthText) : 0;
    const end = pos + length;
    if (length === 0 || end > data.length || data[end - 1] !== 0x0a) {
      throw new TarFormatError(`malformed pax record in the header at byte ${offset}`);
    }
    const record = data.toString('utf8', space + 1, end - 1);
    const equals = record.indexOf('=');
    if (equals <= 0) throw new TarFormatError(`malformed pax record in the header at byte ${offset}`);
    const key = record.slice(0, equals);
    if (key.startsWith('GNU.sparse.')) throw new TarFormatError(`sparse files are not supported (byte ${offset})`);
    records.set(key, record.slice(equals + 1));
    pos = end;
  }
  return records;
}

function refuseHonouredGlobalKeys(records: Map<string, string>, offset: number): void {
  for (const key of HONOURED_PAX_KEYS) {
    if (records.has(key)) throw new TarFormatError(`global pax header at byte ${offset} sets '${key}', which is not supported`);
  }
}

function applyMeta(raw: TarHeader, pending: PendingMeta): TarHeader {
  const paxPath = pending.pax?.get('path');
  const paxLink = pending.pax?.get('linkpath');
  const paxSize = pending.pax?.get('size');
  if (paxPath !== undefined && pending.longName !== undefined) {
    throw new TarFormatError(`entry at byte ${raw.offset} has both a pax path and a GNU long name`);
  }
  if (paxLink !== undefined && pending.longLink !== undefined) {
    throw new TarFormatError(`entry at byte ${raw.offset} has both a pax linkpath and a GNU long link name`);
  }
  let size = raw.size;
  if (paxSize !== undefined) {
    size = /^[0-9]{1,15}$/.test(paxSize) ? Number(paxSize) : Number.NaN;
    if (!Number.isSafeInteger(size)) throw new TarFormatError(`entry at byte ${raw.offset} has a malformed pax size`);
  }
  return {
    ...raw,
    path: paxPath ?? pending.longName ?? raw.path,
    linkpath: paxLink ?? pending.longLink ?? raw.linkpath,
    size,
  };
}

/** Bytes from an async chunk source, read block by block or forwarded in the pieces they arrive in. */
class ByteInput {
  /** Bytes consumed so far: the offset of the next byte in the uncompressed archive. */
  position = 0;
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  private pulled = 0;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly maxBytes: number,
  ) {}

  /** Up to `length` bytes; fewer only at the end of the input. */
  async read(length: number): Promise<Buffer> {
    while (this.buffered.length < length) {
      if (!(await this.pull())) break;
    }
    return this.take(length);
  }

  /** Passes exactly `length` bytes to `onChunk` (or drops them), refusing a truncated archive. */
  async forward(length: number, onChunk?: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    let left = length;
    while (left > 0) {
      if (this.buffered.length === 0 && !(await this.pull())) {
        throw new TarFormatError(`archive is truncated at byte ${this.position}`);
      }
      const piece = this.take(left);
      left -= piece.length;
      if (onChunk) await onChunk(piece);
    }
  }

  private take(length: number): Buffer {
    const piece = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(piece.length);
    this.position += piece.length;
    return piece;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.chunks.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    // Counted when pulled rather than when used, so that the source (gunzip) stops producing at once.
    this.pulled += next.value.length;
    if (this.pulled > this.maxBytes) throw unpacksToMore(this.maxBytes);
    this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
    return true;
  }
}
