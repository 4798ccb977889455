import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { DEFAULT_TUNNEL_CIPHERS } from '../../libs/tunnel';
import { ConfigError, loadIngressConfig } from './ingress.config';

describe('ingress configuration', () => {
  test("defaults: port 443 on every address, routes from PF9_HOST_API_PORT (the role store's package listener, not its REST API) and PF9_JOIN_PORT, PKI under PF9_DATA_DIR", () => {
    const config = loadIngressConfig({ PF9_DATA_DIR: '/var/lib/plane', PF9_HOST_API_PORT: '18078', PF9_API_PORT: '18080' });
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 443 });
    assert.deepEqual(config.routes, [
      { protocol: 'pf9-amqp', host: '127.0.0.1', port: 5672 },
      { protocol: 'pf9-http', host: '127.0.0.1', port: 18078 },
      { protocol: 'pf9-join', host: '127.0.0.1', port: 8079 },
    ]);
    assert.equal(loadIngressConfig({}).routes.find((r) => r.protocol === 'pf9-http')?.port, 8078);
    assert.deepEqual(config.tls, { certFile: '/var/lib/plane/pki/ingress.crt', keyFile: '/var/lib/plane/pki/ingress.key', caFile: '/var/lib/plane/pki/ca.crt', crlFile: '/var/lib/plane/pki/hosts.crl' });
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9093 });
    assert.equal(config.tlsGroups, undefined, "OpenSSL's own key exchange groups");
    assert.equal(config.tlsCiphers, DEFAULT_TUNNEL_CIPHERS);
    assert.equal(loadIngressConfig({ PF9_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' }).tlsCiphers, 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384');
    assert.equal(config.certRecheckMs, 10_000);
    assert.equal(loadIngressConfig({ PF9_INGRESS_CERT_RECHECK_MS: '250' }).certRecheckMs, 250);
    assert.throws(() => loadIngressConfig({ PF9_INGRESS_CERT_RECHECK_MS: '3000000000' }), /PF9_INGRESS_CERT_RECHECK_MS: '3000000000' is more than a day/);
    assert.equal(loadIngressConfig({ PF9_TLS_GROUPS: 'X25519MLKEM768:X25519' }).tlsGroups, 'X25519MLKEM768:X25519');
    assert.equal(loadIngressConfig({}).tls.caFile, resolve('.data/plane/pki/ca.crt'));
  });

  test('PF9_INGRESS_ROUTES replaces the routes it names and may add the sidekick', () => {
    const config = loadIngressConfig({ PF9_INGRESS_ROUTES: 'pf9-amqp=10.0.0.5:5671, pf9-sidekick=127.0.0.1:9443', PF9_INGRESS_CERT_FILE: 'x.crt' });
    assert.deepEqual(config.routes, [
      { protocol: 'pf9-amqp', host: '10.0.0.5', port: 5671 },
      { protocol: 'pf9-http', host: '127.0.0.1', port: 8078 },
      { protocol: 'pf9-join', host: '127.0.0.1', port: 8079 },
      { protocol: 'pf9-sidekick', host: '127.0.0.1', port: 9443 },
    ]);
    assert.equal(config.tls.certFile, resolve('x.crt'));
  });

  test('every bad variable is reported together', () => {
    assert.throws(
      () => loadIngressConfig({ PF9_INGRESS_ROUTES: 'pf9-smtp=127.0.0.1:25,pf9-http=127.0.0.1:0', PF9_INGRESS_LISTEN: '443', PF9_HOST_API_PORT: 'x', PF9_INGRESS_HANDSHAKE_TIMEOUT_MS: '-5', PF9_TLS_GROUPS: 'ffdhe1', PF9_TLS_CIPHERS: 'RC4-MD5' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          "PF9_HOST_API_PORT: 'x' is not a port (1..65535)",
          "PF9_INGRESS_ROUTES: 'pf9-smtp' is not one of pf9-amqp, pf9-http, pf9-join, pf9-sidekick",
          "PF9_INGRESS_ROUTES: pf9-http: port 0 of '127.0.0.1:0' is not in 1..65535",
          "PF9_INGRESS_LISTEN: '443' is not host:port",
          "PF9_TLS_GROUPS: 'ffdhe1' is not a list of key exchange groups this OpenSSL knows (for example X25519MLKEM768:X25519 or X25519:P-256)",
          "PF9_TLS_CIPHERS: 'RC4-MD5' is not a cipher list this OpenSSL takes (no TLS 1.2 cipher OpenSSL knows; for example TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384)",
          "PF9_INGRESS_HANDSHAKE_TIMEOUT_MS: '-5' is not an integer >= 1",
        ]);
        return true;
      },
    );
  });
});
