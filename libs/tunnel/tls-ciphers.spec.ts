import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecureContext, DEFAULT_CIPHERS } from 'node:tls';
import { DEFAULT_TUNNEL_CIPHERS, readTlsCiphers } from './tls-ciphers';

describe('tunnel cipher suites', () => {
  test("the default is Node's list with TLS_AES_128_GCM_SHA256 first, nothing added or left out, and OpenSSL takes it", () => {
    const names = DEFAULT_TUNNEL_CIPHERS.split(':');
    assert.equal(names[0], 'TLS_AES_128_GCM_SHA256');
    assert.deepEqual([...names].sort(), DEFAULT_CIPHERS.split(':').sort());
    assert.doesNotThrow(() => createSecureContext({ ciphers: DEFAULT_TUNNEL_CIPHERS }));
  });

  test('PF9_TLS_CIPHERS: unset gives the default, a usable list is kept as written', () => {
    const problems: string[] = [];
    assert.equal(readTlsCiphers(undefined, problems), DEFAULT_TUNNEL_CIPHERS);
    assert.equal(readTlsCiphers('TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384', problems), 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384');
    assert.deepEqual(problems, []);
  });

  test('PF9_TLS_CIPHERS: a TLS 1.3 suite OpenSSL does not know, or a list it takes nothing from, is a problem', () => {
    const problems: string[] = [];
    readTlsCiphers('TLS_AES_256_GCM_SHA384:TLS_AES_512_GCM_SHA1024', problems);
    readTlsCiphers('NOTHING-KNOWN', problems);
    assert.deepEqual(problems, [
      "PF9_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384:TLS_AES_512_GCM_SHA1024' is not a cipher list this OpenSSL takes (unknown: TLS_AES_512_GCM_SHA1024) (for example TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256)",
      "PF9_TLS_CIPHERS: 'NOTHING-KNOWN' is not a cipher list this OpenSSL takes (for example TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256)",
    ]);
  });
});
