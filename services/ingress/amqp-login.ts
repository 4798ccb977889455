/**
 * The first bytes a client sends on an AMQP 0-9-1 connection, read as far as the broker
 * login: the protocol header, then the connection.start-ok method frame with the SASL
 * mechanism and response. The ingress reads them on the `pf9-amqp` route before it
 * splices, so that a host's tunnel logs in to the broker as that host's own broker user
 * and nobody else, whatever the broker itself would let through (guest "from loopback",
 * which is where every tunnelled connection comes from; the plane's user; another host's).
 *
 * Parsed the way RabbitMQ parses them (rabbit_reader, rabbit_auth_mechanism_plain), and
 * stricter: PLAIN only (AMQPLAIN carries a table, EXTERNAL and others a name the ingress
 * cannot see), its response exactly NUL user NUL password, the frame nothing more.
 */
export const AMQP_PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]);

/** A start-ok larger than this is refused: real ones are a few hundred bytes (RabbitMQ's own limit before tuning is 4 KiB). */
export const MAX_LOGIN_FRAME_BYTES = 16 * 1024;

const FRAME_METHOD = 1;
const FRAME_END = 0xce;
const CONNECTION_CLASS = 10;
const START_OK_METHOD = 11;
const CLOSE_METHOD = 50;
/** AMQP's reply code for a refused login. */
const ACCESS_REFUSED = 403;

export type AmqpLogin =
  /** Not all of it has come yet. */
  | { kind: 'incomplete' }
  /** `consumed`: the bytes of the header and the start-ok frame; what follows them is the client's next frames. */
  | { kind: 'login'; mechanism: string; username: string; consumed: number }
  | { kind: 'invalid'; reason: string };

/** Reads the header and start-ok at the front of `bytes` (everything the client sent so far). */
export function readAmqpLogin(bytes: Buffer): AmqpLogin {
  const headerBytes = Math.min(bytes.length, AMQP_PROTOCOL_HEADER.length);
  if (!bytes.subarray(0, headerBytes).equals(AMQP_PROTOCOL_HEADER.subarray(0, headerBytes))) {
    return { kind: 'invalid', reason: 'not the AMQP 0-9-1 protocol header' };
  }
  const frameStart = AMQP_PROTOCOL_HEADER.length;
  if (bytes.length < frameStart + 7) return { kind: 'incomplete' };
  const type = bytes[frameStart];
  const channel = bytes.readUInt16BE(frameStart + 1);
  const size = bytes.readUInt32BE(frameStart + 3);
  if (type !== FRAME_METHOD || channel !== 0) return { kind: 'invalid', reason: `the first frame is not a method on channel 0 (type ${type}, channel ${channel})` };
  if (size > MAX_LOGIN_FRAME_BYTES) return { kind: 'invalid', reason: `the first frame is ${size} bytes, more than ${MAX_LOGIN_FRAME_BYTES}` };
  const payloadStart = frameStart + 7;
  const end = payloadStart + size;
  if (bytes.length < end + 1) return { kind: 'incomplete' };
  if (bytes[end] !== FRAME_END) return { kind: 'invalid', reason: 'the first frame does not end with the frame-end octet' };
  const payload = bytes.subarray(payloadStart, end);
  const parsed = readStartOk(payload);
  if (typeof parsed === 'string') return { kind: 'invalid', reason: parsed };
  if (parsed.mechanism !== 'PLAIN') return { kind: 'invalid', reason: `SASL mechanism ${JSON.stringify(parsed.mechanism)}: only PLAIN is carried` };
  const username = plainUsername(parsed.response);
  if (username === null) return { kind: 'invalid', reason: 'the PLAIN response is not NUL user NUL password' };
  return { kind: 'login', mechanism: parsed.mechanism, username, consumed: end + 1 };
}

/** connection.start-ok: class, method, client-properties (table), mechanism (shortstr), response (longstr), locale (shortstr). */
function readStartOk(payload: Buffer): { mechanism: string; response: Buffer } | string {
  let at = 0;
  const need = (n: number): boolean => at + n <= payload.length;
  if (!need(4)) return 'the first method is truncated';
  const classId = payload.readUInt16BE(0);
  const methodId = payload.readUInt16BE(2);
  if (classId !== CONNECTION_CLASS || methodId !== START_OK_METHOD) return `the first method is ${classId}.${methodId}, not connection.start-ok`;
  at = 4;
  if (!need(4)) return 'connection.start-ok is truncated';
  const tableBytes = payload.readUInt32BE(at);
  at += 4;
  if (!need(tableBytes)) return 'connection.start-ok is truncated';
  at += tableBytes;
  if (!need(1)) return 'connection.start-ok is truncated';
  const mechanismBytes = payload[at];
  at += 1;
  if (!need(mechanismBytes)) return 'connection.start-ok is truncated';
  const mechanism = payload.toString('latin1', at, at + mechanismBytes);
  at += mechanismBytes;
  if (!need(4)) return 'connection.start-ok is truncated';
  const responseBytes = payload.readUInt32BE(at);
  at += 4;
  if (!need(responseBytes)) return 'connection.start-ok is truncated';
  const response = payload.subarray(at, at + responseBytes);
  at += responseBytes;
  if (!need(1)) return 'connection.start-ok is truncated';
  const localeBytes = payload[at];
  at += 1;
  if (!need(localeBytes)) return 'connection.start-ok is truncated';
  at += localeBytes;
  if (at !== payload.length) return 'connection.start-ok has bytes after its last field';
  return { mechanism, response };
}

/** The user of a PLAIN response `\0user\0password` (no authorization identity, no other NUL), or null. */
function plainUsername(response: Buffer): string | null {
  if (response.length < 2 || response[0] !== 0) return null;
  const second = response.indexOf(0, 1);
  if (second === -1 || response.indexOf(0, second + 1) !== -1) return null;
  const user = response.subarray(1, second);
  const text = user.toString('utf8');
  // A name that is not valid UTF-8 would compare equal to another after decoding.
  if (!Buffer.from(text, 'utf8').equals(user)) return null;
  return text;
}

/**
 * connection.close with ACCESS_REFUSED, as the broker sends it for a refused login, so
 * that the client says why (amqplib: "ACCESS_REFUSED - …") rather than "socket closed".
 */
export function accessRefusedFrame(text: string): Buffer {
  const reply = Buffer.from(`ACCESS_REFUSED - ${text}`.slice(0, 255), 'latin1');
  const payload = Buffer.alloc(4 + 2 + 1 + reply.length + 4);
  let at = payload.writeUInt16BE(CONNECTION_CLASS, 0);
  at = payload.writeUInt16BE(CLOSE_METHOD, at);
  at = payload.writeUInt16BE(ACCESS_REFUSED, at);
  at = payload.writeUInt8(reply.length, at);
  at += reply.copy(payload, at);
  at = payload.writeUInt16BE(CONNECTION_CLASS, at);
  payload.writeUInt16BE(START_OK_METHOD, at);
  return methodFrame(payload);
}

function methodFrame(payload: Buffer): Buffer {
  const frame = Buffer.alloc(7 + payload.length + 1);
  frame.writeUInt8(FRAME_METHOD, 0);
  frame.writeUInt16BE(0, 1);
  frame.writeUInt32BE(payload.length, 3);
  payload.copy(frame, 7);
  frame.writeUInt8(FRAME_END, 7 + payload.length);
  return frame;
}
