import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEndpoint, parseEndpointList, parseHostPort, parseListenList } from './endpoint-list';

describe('host:port lists', () => {
  test('parses host:port, [v6]:port, and refuses port 0 unless allowed', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:5672'), { ok: true, value: { host: '127.0.0.1', port: 5672 } });
    assert.deepEqual(parseHostPort(' plane.example.com:443 '), { ok: true, value: { host: 'plane.example.com', port: 443 } });
    assert.deepEqual(parseHostPort('[::1]:9092'), { ok: true, value: { host: '::1', port: 9092 } });
    assert.equal(parseHostPort('127.0.0.1:0').ok, false);
    assert.deepEqual(parseHostPort('127.0.0.1:0', { allowPortZero: true }), { ok: true, value: { host: '127.0.0.1', port: 0 } });
    for (const bad of ['localhost', ':80', 'host:65536', 'host:-1', '::1:80', '[nope]:80', 'a b:1']) assert.equal(parseHostPort(bad).ok, false, bad);
  });

  test('parses name=host:port lists and reports every problem at once', () => {
    const names = ['amqp', 'http', 'join'] as const;
    assert.deepEqual(parseEndpointList('amqp=127.0.0.1:5672, http=127.0.0.1:9080', names), {
      ok: true,
      value: [
        { name: 'amqp', host: '127.0.0.1', port: 5672 },
        { name: 'http', host: '127.0.0.1', port: 9080 },
      ],
    });
    const bad = parseEndpointList('amqp=127.0.0.1:5672,smtp=127.0.0.1:25,http=nowhere,amqp=127.0.0.1:1,join', names);
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.problems, [
      "'smtp' is not one of amqp, http, join",
      "http: 'nowhere' is not host:port",
      "'amqp' appears more than once",
      "'join' is not name=host:port",
    ]);
    assert.equal(parseEndpointList(' , ', names).ok, false);
  });

  test('parses listener lists: host:port (port 0 allowed) or unix:/path', () => {
    const names = ['amqp', 'join'] as const;
    assert.deepEqual(parseListenList('amqp=unix:/run/pf9-comms/amqp.sock, join=127.0.0.1:0', names), {
      ok: true,
      value: [
        { name: 'amqp', path: '/run/pf9-comms/amqp.sock' },
        { name: 'join', host: '127.0.0.1', port: 0 },
      ],
    });
    const bad = parseListenList('amqp=unix:amqp.sock,join', names);
    assert.deepEqual(!bad.ok && bad.problems, ["amqp: 'amqp.sock' is not an absolute path (unix:/…)", "'join' is not name=host:port or name=unix:/path"]);
  });

  test('formats IPv6 endpoints in brackets', () => {
    assert.equal(formatEndpoint({ host: '::1', port: 443 }), '[::1]:443');
    assert.equal(formatEndpoint({ host: 'plane', port: 443 }), 'plane:443');
  });
});
