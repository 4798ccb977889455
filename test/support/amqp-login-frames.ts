/**
 * What an AMQP 0-9-1 client sends up to its login, encoded from the specification for
 * tests (not with the ingress's own reader): the protocol header, then connection.start-ok
 * (client-properties, mechanism, response, locale) as one method frame on channel 0.
 */
export function amqpLoginBytes(login: { username?: string; password?: string; mechanism?: string; response?: Buffer; properties?: Buffer }): Buffer {
  const shortstr = (text: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(text, 'latin1')]), Buffer.from(text, 'latin1')]);
  const longstr = (bytes: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const response = login.response ?? Buffer.from(`\0${login.username ?? ''}\0${login.password ?? ''}`, 'utf8');
  const classAndMethod = Buffer.from([0, 10, 0, 11]);
  const payload = Buffer.concat([classAndMethod, longstr(login.properties ?? Buffer.alloc(0)), shortstr(login.mechanism ?? 'PLAIN'), longstr(response), shortstr('en_US')]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0);
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), header, payload, Buffer.from([0xce])]);
}
