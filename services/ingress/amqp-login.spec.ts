import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { amqpLoginBytes } from '../../test/support/amqp-login-frames';
import { accessRefusedFrame, MAX_LOGIN_FRAME_BYTES, readAmqpLogin } from './amqp-login';

describe('readAmqpLogin', () => {
  test('reads the user of a PLAIN login, whatever way the bytes are cut, and says where the login ends', () => {
    const login = amqpLoginBytes({ username: 'pf9-host-h1', password: 's3cret', properties: Buffer.from('\x07productS\x00\x00\x00\x07amqplib', 'latin1') });
    const next = Buffer.from([8, 0, 0, 0, 0, 0, 0, 0xce]);
    for (let cut = 0; cut < login.length; cut += 1) assert.deepEqual(readAmqpLogin(login.subarray(0, cut)), { kind: 'incomplete' }, `cut at ${cut}`);
    assert.deepEqual(readAmqpLogin(Buffer.concat([login, next])), { kind: 'login', mechanism: 'PLAIN', username: 'pf9-host-h1', consumed: login.length });
  });

  test('refuses what is not an AMQP 0-9-1 login as soon as it can tell', () => {
    const invalid = (bytes: Buffer, reason: RegExp): void => {
      const read = readAmqpLogin(bytes);
      assert.equal(read.kind, 'invalid', bytes.toString('latin1'));
      assert.match(read.kind === 'invalid' ? read.reason : '', reason);
    };
    invalid(Buffer.from('GET / HTTP/1.1'), /protocol header/);
    invalid(Buffer.from('AMQP\x01\x01\x00\x0a', 'latin1'), /protocol header/);
    invalid(Buffer.from('AMQP\x00\x01', 'latin1'), /protocol header/);
    const login = amqpLoginBytes({ username: 'u', password: 'p' });
    const heartbeat = Buffer.from(login);
    heartbeat[8] = 8;
    invalid(heartbeat, /not a method on channel 0/);
    const onChannel1 = Buffer.from(login);
    onChannel1[10] = 1;
    invalid(onChannel1, /not a method on channel 0/);
    const huge = Buffer.from(login);
    huge.writeUInt32BE(MAX_LOGIN_FRAME_BYTES + 1, 11);
    invalid(huge.subarray(0, 16), /more than/);
    const noEnd = Buffer.from(login);
    noEnd[noEnd.length - 1] = 0;
    invalid(noEnd, /frame-end/);
    const otherMethod = Buffer.from(login);
    otherMethod[18] = 40; // connection.open before any login
    invalid(otherMethod, /not connection\.start-ok/);
  });

  test('only PLAIN, and only NUL user NUL password, without a second name hidden anywhere', () => {
    const refused = (bytes: Buffer): string => {
      const read = readAmqpLogin(bytes);
      assert.equal(read.kind, 'invalid');
      return read.kind === 'invalid' ? read.reason : '';
    };
    assert.match(refused(amqpLoginBytes({ mechanism: 'AMQPLAIN', response: Buffer.from('\x05LOGINS\x00\x00\x00\x05guest', 'latin1') })), /only PLAIN/);
    assert.match(refused(amqpLoginBytes({ mechanism: 'EXTERNAL', response: Buffer.alloc(0) })), /only PLAIN/);
    assert.match(refused(amqpLoginBytes({ mechanism: 'plain', username: 'u', password: 'p' })), /only PLAIN/);
    for (const response of ['pf9-host-h1\0guest\0guest', '\0guest\0guest\0pf9-host-h1', '\0guest', '', '\0\xff\0p']) {
      assert.match(refused(amqpLoginBytes({ response: Buffer.from(response, 'latin1') })), /not NUL user NUL password/, JSON.stringify(response));
    }
    const frameOf = (payload: Buffer): Buffer => {
      const header = Buffer.alloc(7);
      header[0] = 1;
      header.writeUInt32BE(payload.length, 3);
      return Buffer.concat([Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), header, payload, Buffer.from([0xce])]);
    };
    const login = amqpLoginBytes({ username: 'u', password: 'p' });
    const payload = login.subarray(15, login.length - 1);
    assert.deepEqual(readAmqpLogin(frameOf(payload)), { kind: 'login', mechanism: 'PLAIN', username: 'u', consumed: login.length });
    assert.match(refused(frameOf(Buffer.concat([payload, Buffer.from([1])]))), /bytes after its last field/);
    assert.match(refused(frameOf(payload.subarray(0, payload.length - 3))), /truncated/);
  });

  test('an empty password and an empty user are read as they are (the broker decides about them)', () => {
    const read = readAmqpLogin(amqpLoginBytes({ username: '', password: '' }));
    assert.equal(read.kind === 'login' ? read.username : read.kind, '');
  });
});

describe('accessRefusedFrame', () => {
  test('is connection.close 403 ACCESS_REFUSED in one method frame on channel 0', () => {
    const frame = accessRefusedFrame('not as guest');
    assert.equal(frame[0], 1);
    assert.equal(frame.readUInt16BE(1), 0);
    assert.equal(frame.readUInt32BE(3), frame.length - 8);
    assert.equal(frame[frame.length - 1], 0xce);
    assert.deepEqual([frame.readUInt16BE(7), frame.readUInt16BE(9), frame.readUInt16BE(11)], [10, 50, 403]);
    const text = frame.subarray(14, 14 + frame[13]).toString('latin1');
    assert.equal(text, 'ACCESS_REFUSED - not as guest');
    assert.deepEqual([frame.readUInt16BE(14 + frame[13]), frame.readUInt16BE(16 + frame[13])], [10, 11]);
    assert.ok(accessRefusedFrame('x'.repeat(400)).length < 300, 'the reply text is a short string');
  });
});
