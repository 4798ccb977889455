import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostIdOf, hostUrnOf } from './client-identity';

describe('the host a client certificate names', () => {
  test('the urn:pf9:host: URI SAN first, then the subject CN', () => {
    assert.equal(hostIdOf({ subjectAltName: 'DNS:h1.example, URI:urn:pf9:host:4f1c-aa', subject: 'CN=other' }), '4f1c-aa');
    assert.equal(hostIdOf({ subjectAltName: 'URI:https://example.com', subject: 'O=Example\nCN=host-7' }), 'host-7');
    assert.equal(hostIdOf({ subjectAltName: undefined, subject: 'O=Example' }), undefined);
    assert.equal(hostUrnOf({ subjectAltName: 'URI:https://example.com' }), undefined, 'a CN alone names no host for authorization');
    assert.equal(hostUrnOf({ subjectAltName: 'DNS:x, URI:urn:pf9:host:h-1' }), 'h-1');
    assert.equal(hostUrnOf({ subjectAltName: 'URI:urn:pf9:host:a/b' }), undefined, 'not a host id');
  });
});
