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

  test('PF9_TLS_CIPHERS: unset gives the default, a list naming both kinds is kept as written', () => {
    const problems: string[] = [];
    assert.equal(readTlsCiphers(undefined, problems), DEFAULT_TUNNEL_CIPHERS);
    assert.equal(readTlsCiphers('TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384', problems), 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384');
    assert.deepEqual(problems, []);
  });

  test('PF9_TLS_CIPHERS naming one kind only keeps the default for the other (TLS 1.2 stays on; TLS 1.3 keeps AES-128 first)', () => {
    const problems: string[] = [];
    const defaults = DEFAULT_TUNNEL_CIPHERS.split(':');
    const tls13 = defaults.filter((name) => name.startsWith('TLS_')).join(':');
    const tls12 = defaults.filter((name) => !name.startsWith('TLS_')).join(':');
    assert.equal(readTlsCiphers('TLS_AES_256_GCM_SHA384', problems), `TLS_AES_256_GCM_SHA384:${tls12}`);
    assert.equal(readTlsCiphers('ECDHE-ECDSA-AES256-GCM-SHA384', problems), `${tls13}:ECDHE-ECDSA-AES256-GCM-SHA384`);
    assert.ok(tls13.startsWith('TLS_AES_128_GCM_SHA256:') && tls12.startsWith('ECDHE-'), `${tls13} | ${tls12}`);
    assert.deepEqual(problems, []);
  });

  test('PF9_TLS_CIPHERS: an unknown or lower-case TLS 1.3 suite, or TLS 1.2 names OpenSSL takes nothing from, is a problem', () => {
    const problems: string[] = [];
    readTlsCiphers('TLS_AES_256_GCM_SHA384:TLS_AES_512_GCM_SHA1024', problems);
    readTlsCiphers('tls_aes_256_gcm_sha384:ECDHE-ECDSA-AES256-GCM-SHA384', problems);
    readTlsCiphers('NOTHING-KNOWN', problems);
    const example = 'for example TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384';
    assert.deepEqual(problems, [
      `PF9_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384:TLS_AES_512_GCM_SHA1024' is not a cipher list this OpenSSL takes (unknown: TLS_AES_512_GCM_SHA1024; ${example})`,
      `PF9_TLS_CIPHERS: 'tls_aes_256_gcm_sha384:ECDHE-ECDSA-AES256-GCM-SHA384' is not a cipher list this OpenSSL takes (TLS 1.3 suites are written in capitals: tls_aes_256_gcm_sha384; ${example})`,
      `PF9_TLS_CIPHERS: 'NOTHING-KNOWN' is not a cipher list this OpenSSL takes (no TLS 1.2 cipher OpenSSL knows; ${example})`,
    ]);
  });
});
