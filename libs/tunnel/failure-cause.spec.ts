import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { peerAlert } from './failure-cause';

describe('peerAlert', () => {
  test("names the alert of node's code for it, under each of OpenSSL's three prefixes, and nothing else", () => {
    assert.equal(peerAlert('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'), 'HANDSHAKE_FAILURE');
    assert.equal(peerAlert('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'), 'PROTOCOL_VERSION');
    assert.equal(peerAlert('ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE'), 'HANDSHAKE_FAILURE');
    assert.equal(peerAlert('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), undefined, 'not one of the three prefixes');
    assert.equal(peerAlert('ERR_SSL_NO_SHARED_CIPHER'), undefined);
    assert.equal(peerAlert('ECONNRESET'), undefined);
    assert.equal(peerAlert(undefined), undefined);
  });
});
