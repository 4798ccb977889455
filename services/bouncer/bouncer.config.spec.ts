import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadBouncerConfig } from './bouncer.config';

describe('pf9-bouncer configuration', () => {
  test('defaults: loopback listeners, the host files under PF9_ROOT, comms as the broker, 60 s / 10 s cache', () => {
    const config = loadBouncerConfig({ PF9_ROOT: '/srv/host' });
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9443 });
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9094 });
    assert.deepEqual(config.tls, { certFile: '/srv/host/etc/pf9/certs/host.crt', keyFile: '/srv/host/etc/pf9/certs/host.key' });
    assert.equal(config.brokerUserFile, '/srv/host/etc/pf9/broker.json');
    assert.equal(config.amqpUrl, 'amqp://127.0.0.1:5672');
    assert.deepEqual(config.cache, { positiveTtlMs: 60_000, negativeTtlMs: 10_000, maxEntries: 10_000 });
    assert.equal(config.planeTimeoutMs, 5_000);
    assert.equal(config.certRecheckMs, 60_000);
    assert.equal(config.logLevel, 'info');
  });

  test('takes every variable', () => {
    const config = loadBouncerConfig({
      PF9_BOUNCER_LISTEN: '[::1]:8443',
      PF9_BOUNCER_ADMIN: '127.0.0.1:0',
      PF9_CERT_FILE: '/run/credentials/pf9-bouncer.service/host.crt',
      PF9_KEY_FILE: '/run/credentials/pf9-bouncer.service/host.key',
      PF9_BROKER_USER_FILE: '/run/credentials/pf9-bouncer.service/broker.json',
      AMQP_URL: 'amqp://127.0.0.1:5673/vhost',
      PF9_BOUNCER_CACHE_POSITIVE_S: '30',
      PF9_BOUNCER_CACHE_NEGATIVE_S: '0',
      PF9_BOUNCER_CACHE_MAX_ENTRIES: '5',
      PF9_BOUNCER_PLANE_TIMEOUT_MS: '2500',
      PF9_BOUNCER_MAX_PENDING: '8',
      PF9_BOUNCER_CERT_RECHECK_S: '5',
      PF9_LOG_LEVEL: 'debug',
    });
    assert.deepEqual(config.listen, { host: '::1', port: 8443 });
    assert.equal(config.tls.keyFile, '/run/credentials/pf9-bouncer.service/host.key');
    assert.equal(config.brokerUserFile, '/run/credentials/pf9-bouncer.service/broker.json');
    assert.deepEqual(config.cache, { positiveTtlMs: 30_000, negativeTtlMs: 0, maxEntries: 5 });
    assert.deepEqual([config.planeTimeoutMs, config.maxPending, config.certRecheckMs, config.logLevel], [2500, 8, 5000, 'debug']);
  });

  test('reports every bad variable at once, without the broker password', () => {
    assert.throws(
      () =>
        loadBouncerConfig({
          PF9_BOUNCER_LISTEN: 'nowhere',
          PF9_BOUNCER_CACHE_POSITIVE_S: '-1',
          PF9_BOUNCER_CACHE_NEGATIVE_S: '1.5',
          PF9_BOUNCER_PLANE_TIMEOUT_MS: '10',
          AMQP_URL: 'http://user:hunter2@host',
          PF9_LOG_LEVEL: 'chatty',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const named = err.problems.map((p) => p.split(':')[0]).sort();
        assert.deepEqual(named, ['AMQP_URL', 'PF9_BOUNCER_CACHE_NEGATIVE_S', 'PF9_BOUNCER_CACHE_POSITIVE_S', 'PF9_BOUNCER_LISTEN', 'PF9_BOUNCER_PLANE_TIMEOUT_MS', 'PF9_LOG_LEVEL']);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });
});
