import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_TUNNEL_CIPHERS } from '../../libs/tunnel';
import { ConfigError, loadCommsConfig, noProxyMatches } from './comms.config';

const run = promisify(execFile);

function problems(env: Record<string, string>): string[] {
  try {
    loadCommsConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('comms configuration', () => {
  test('defaults: the three local ports, port 443, SNI = the plane host, files under PF9_ROOT', () => {
    const config = loadCommsConfig({ PF9_PLANE_HOST: 'plane.example.com', PF9_ROOT: '/srv/host' });
    assert.deepEqual(config.listen, [
      { service: 'amqp', host: '127.0.0.1', port: 5672 },
      { service: 'http', host: '127.0.0.1', port: 9080 },
      { service: 'join', host: '127.0.0.1', port: 9079 },
    ]);
    assert.deepEqual(config.plane, { host: 'plane.example.com', port: 443, servername: 'plane.example.com' });
    assert.deepEqual(config.ca, { file: '/srv/host/etc/pf9/certs/ca.crt', required: false });
    assert.deepEqual(config.hostCert, { certFile: '/srv/host/etc/pf9/certs/host.crt', keyFile: '/srv/host/etc/pf9/certs/host.key' });
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9092 });
    assert.equal(config.connectTimeoutMs, 10_000);
    assert.equal(config.proxy, undefined);
    assert.equal(config.tlsGroups, undefined, "OpenSSL's own key exchange groups");
    assert.equal(config.tlsCiphers, DEFAULT_TUNNEL_CIPHERS);
  });

  test('overrides: CA, certificate, key, servername, timeouts', () => {
    const config = loadCommsConfig({
      PF9_PLANE_HOST: '192.0.2.1',
      PF9_PLANE_PORT: '8443',
      PF9_PLANE_SERVERNAME: 'plane.example.com',
      PF9_CA_FILE: '/etc/ssl/plane.pem',
      PF9_CERT_FILE: '/a/host.crt',
      PF9_KEY_FILE: '/a/host.key',
      PF9_COMMS_CONNECT_TIMEOUT_MS: '2500',
      PF9_COMMS_LISTEN: 'amqp=127.0.0.1:15672',
      PF9_TLS_GROUPS: 'X25519:P-256',
      PF9_TLS_CIPHERS: 'TLS_AES_256_GCM_SHA384',
    });
    assert.equal(config.tlsGroups, 'X25519:P-256');
    assert.ok(config.tlsCiphers.startsWith('TLS_AES_256_GCM_SHA384:ECDHE-'), 'TLS 1.3 as configured, TLS 1.2 as by default');
    assert.deepEqual(config.plane, { host: '192.0.2.1', port: 8443, servername: 'plane.example.com' });
    assert.deepEqual(config.ca, { file: '/etc/ssl/plane.pem', required: true });
    assert.deepEqual(config.hostCert, { certFile: '/a/host.crt', keyFile: '/a/host.key' });
    assert.equal(config.connectTimeoutMs, 2500);
    assert.deepEqual(config.listen, [{ service: 'amqp', host: '127.0.0.1', port: 15672 }]);
  });

  test('every bad variable is reported together', () => {
    assert.deepEqual(
      problems({
        PF9_COMMS_LISTEN: 'amqp=127.0.0.1:5672,ftp=127.0.0.1:21',
        PF9_PLANE_PORT: 'https',
        PF9_COMMS_ADMIN: 'localhost',
        PF9_COMMS_CONNECT_TIMEOUT_MS: '0',
        PF9_LOG_LEVEL: 'loud',
        PF9_TLS_GROUPS: 'X25519:P-999',
        PF9_TLS_CIPHERS: 'TLS_NULL',
        HTTPS_PROXY: 'https://proxy:3128',
      }),
      [
        "PF9_COMMS_LISTEN: 'ftp' is not one of amqp, http, join, sidekick",
        'PF9_PLANE_HOST: required (the plane ingress host name or address)',
        "PF9_PLANE_PORT: 'https' is not a port (1..65535)",
        "PF9_TLS_GROUPS: 'X25519:P-999' is not a list of key exchange groups this OpenSSL knows (for example X25519MLKEM768:X25519 or X25519:P-256)",
        "PF9_TLS_CIPHERS: 'TLS_NULL' is not a cipher list this OpenSSL takes (unknown: TLS_NULL; for example TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384)",
        "PF9_COMMS_ADMIN: 'localhost' is not host:port",
        "PF9_COMMS_CONNECT_TIMEOUT_MS: '0' is not an integer >= 1",
        "PF9_LOG_LEVEL: 'loud' is not one of debug, info, warn, error",
        'HTTPS_PROXY: only http:// proxies are supported (CONNECT, then TLS to the plane inside), not https://',
      ],
    );
  });

  test('listeners on Unix sockets (unix:/path) beside TCP ones; a relative or too long path is refused', () => {
    const config = loadCommsConfig({ PF9_PLANE_HOST: 'plane', PF9_COMMS_LISTEN: 'amqp=unix:/run/pf9-comms/amqp.sock,join=unix:/run/pf9-comms/join.sock,sidekick=127.0.0.1:0' });
    assert.deepEqual(config.listen, [
      { service: 'amqp', path: '/run/pf9-comms/amqp.sock' },
      { service: 'join', path: '/run/pf9-comms/join.sock' },
      { service: 'sidekick', host: '127.0.0.1', port: 0 },
    ]);
    assert.deepEqual(problems({ PF9_PLANE_HOST: 'plane', PF9_COMMS_LISTEN: `amqp=unix:run/amqp.sock,http=unix:/${'x'.repeat(120)}.sock,join=unix:` }), [
      "PF9_COMMS_LISTEN: amqp: 'run/amqp.sock' is not an absolute path (unix:/…)",
      `PF9_COMMS_LISTEN: http: '/${'x'.repeat(120)}.sock' is longer than a Unix socket path may be (107 bytes)`,
      "PF9_COMMS_LISTEN: join: '' is not an absolute path (unix:/…)",
    ]);
  });

  test('the proxy: HTTPS_PROXY with credentials, NO_PROXY, and PF9_COMMS_PROXY first', () => {
    const base = { PF9_PLANE_HOST: 'plane.example.com' };
    assert.deepEqual(loadCommsConfig({ ...base, https_proxy: 'http://bob:p%40ss@proxy.corp:3128' }).proxy, {
      host: 'proxy.corp',
      port: 3128,
      auth: 'bob:p@ss',
      display: 'http://bob:***@proxy.corp:3128',
    });
    assert.equal(loadCommsConfig({ ...base, HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: 'localhost,.example.com' }).proxy, undefined);
    assert.equal(loadCommsConfig({ ...base, HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: 'other.com' }).proxy?.host, 'proxy.corp');
    assert.deepEqual(loadCommsConfig({ ...base, HTTPS_PROXY: 'http://a:1', PF9_COMMS_PROXY: 'http://b', NO_PROXY: '*' }).proxy, {
      host: 'b',
      port: 80,
      auth: undefined,
      display: 'http://b',
    });
  });

  test('NO_PROXY matching: names and subdomains, addresses, CIDR blocks, ports, *', () => {
    assert.equal(noProxyMatches('example.com', 'plane.example.com', 443), true);
    assert.equal(noProxyMatches('.example.com', 'example.com', 443), true);
    assert.equal(noProxyMatches('*.example.com', 'a.b.example.com', 443), true);
    assert.equal(noProxyMatches('example.com', 'badexample.com', 443), false);
    assert.equal(noProxyMatches('example.com:8443', 'plane.example.com', 443), false);
    assert.equal(noProxyMatches('example.com:443', 'plane.example.com', 443), true);
    assert.equal(noProxyMatches('10.0.0.0/8', '10.1.2.3', 443), true);
    assert.equal(noProxyMatches('10.0.0.0/8', '192.0.2.1', 443), false);
    assert.equal(noProxyMatches('192.0.2.1', '192.0.2.1', 443), true);
    assert.equal(noProxyMatches('::1', '::1', 443), true);
    assert.equal(noProxyMatches('[fd00::]:443, fd00::/8', 'fd00::5', 443), true);
    assert.equal(noProxyMatches('*', 'anything', 1), true);
    assert.equal(noProxyMatches('', 'plane', 443), false);
  });

  test('a listener on an address other than loopback needs PF9_COMMS_ALLOW_REMOTE_LISTEN=1: whoever reaches it speaks to the plane as this host', () => {
    const base = { PF9_PLANE_HOST: 'plane.example.com' };
    for (const listen of ['amqp=127.0.0.1:5672,http=127.0.0.2:9080', 'amqp=[::1]:5672', 'join=localhost:9079']) {
      assert.deepEqual(problems({ ...base, PF9_COMMS_LISTEN: listen }), [], listen);
    }
    assert.deepEqual(problems({ ...base, PF9_COMMS_LISTEN: 'amqp=127.0.0.1:5672,http=0.0.0.0:9080,join=[::]:9079' }), [
      "PF9_COMMS_LISTEN: http on 0.0.0.0:9080 and join on [::]:9079 are not loopback addresses: anyone who reaches them speaks to the plane as this host; set PF9_COMMS_ALLOW_REMOTE_LISTEN=1 if that is meant",
    ]);
    assert.deepEqual(problems({ ...base, PF9_COMMS_LISTEN: 'amqp=host.example:5672' }), [
      'PF9_COMMS_LISTEN: amqp on host.example:5672 is not a loopback address: anyone who reaches it speaks to the plane as this host; set PF9_COMMS_ALLOW_REMOTE_LISTEN=1 if that is meant',
    ]);
    const allowed = loadCommsConfig({ ...base, PF9_COMMS_LISTEN: 'amqp=0.0.0.0:5672', PF9_COMMS_ALLOW_REMOTE_LISTEN: '1' });
    assert.deepEqual(allowed.listen, [{ service: 'amqp', host: '0.0.0.0', port: 5672 }]);
    assert.deepEqual(problems({ ...base, PF9_COMMS_ALLOW_REMOTE_LISTEN: 'yes please' }), ["PF9_COMMS_ALLOW_REMOTE_LISTEN: 'yes please' is not 1 or 0"]);
  });

  test('a CA file that is there but cannot be read stops comms at boot, PF9_CA_FILE or the default one', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'comms-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const base = { PF9_PLANE_HOST: 'plane.example.com', PF9_ROOT: dir };
    assert.deepEqual(problems(base), [], 'no CA file at all: the system CAs, as documented');
    // A directory where the file should be: unreadable for root too (EISDIR).
    const caDir = join(dir, 'etc/pf9/certs/ca.crt');
    mkdirSync(caDir, { recursive: true });
    assert.deepEqual(problems(base), [`PF9_CA_FILE: the default CA file ${caDir} is there but cannot be read (EISDIR); comms would otherwise trust the system's CAs instead`]);
    assert.deepEqual(problems({ ...base, PF9_CA_FILE: caDir }), [`PF9_CA_FILE: ${caDir} cannot be read (EISDIR)`]);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.crt');
      writeFileSync(locked, 'x');
      chmodSync(locked, 0o000);
      assert.deepEqual(problems({ ...base, PF9_CA_FILE: locked }), [`PF9_CA_FILE: ${locked} cannot be read (EACCES)`]);
    }
  });

  test('main exits with the list of bad variables', async () => {
    const main = join(__dirname, 'main.js');
    const result = await run(process.execPath, [main], { env: { PATH: process.env.PATH, PF9_PLANE_PORT: '0' } }).then(
      () => assert.fail('comms started with a bad configuration'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid pf9-comms configuration:\n {2}- PF9_PLANE_HOST: required.*\n {2}- PF9_PLANE_PORT: '0' is not a port/s);
  });
});
