import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { hostnameOf, requestGate } from './request-gate';

function run(headers: Record<string, string>, method = 'GET', path = '/v1/hosts'): { status: number; body: unknown; passed: boolean } {
  const out = { status: 0, body: undefined as unknown, passed: false };
  const res = {
    setHeader: () => res,
    status: (s: number) => ((out.status = s), res),
    json: (b: unknown) => ((out.body = b), res),
  } as unknown as Response;
  requestGate({ hostnames: ['localhost', '127.0.0.1', '::1', 'plane.example.com'] })({ headers, method, path } as unknown as Request, res, () => (out.passed = true));
  return out;
}

describe('the request gate in front of the REST API', () => {
  test('a Host the plane answers to passes, with or without a port; any other is refused (421) before any route', () => {
    for (const host of ['localhost:8080', '127.0.0.1', '[::1]:8080', 'PLANE.example.com']) assert.equal(run({ host }).passed, true, host);
    for (const host of ['evil.example.com:8080', 'localhost.evil.example', '', 'a b', '127.0.0.1.nip.io:8080']) {
      const out = run({ host });
      assert.equal(out.passed, false, host);
      assert.equal(out.status, 421);
      assert.equal((out.body as { error: { code: string } }).error.code, 'FORBIDDEN');
    }
    assert.equal(run({}).passed, false, 'no Host at all');
  });

  test('what an HTML form can send without asking (text/plain, urlencoded, multipart) is refused with 415; JSON and packages pass', () => {
    const put = (type: string | undefined, path = '/v1/hosts/h/roles/r', method = 'PUT') =>
      run({ host: 'localhost', 'content-length': '2', ...(type === undefined ? {} : { 'content-type': type }) }, method, path);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined, 'application/gzip']) {
      const out = put(type);
      assert.equal(out.status, 415, String(type));
      assert.equal((out.body as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
    }
    assert.equal(put('application/json; charset=utf-8').passed, true);
    assert.equal(put('application/gzip', '/v1/roles', 'POST').passed, true);
    assert.equal(put('application/json', '/v1/roles', 'POST').passed, true, 'a JSON body where a package goes is the route\'s 400');
    assert.equal(put('text/plain', '/v1/roles', 'POST').status, 415);
    assert.equal(run({ host: 'localhost' }, 'POST', '/v1/hosts/h/authorize').passed, true, 'no body, no type needed');
  });

  test('host names read from the header', () => {
    assert.equal(hostnameOf('Example.COM:443'), 'example.com');
    assert.equal(hostnameOf('[::1]'), '::1');
    assert.equal(hostnameOf('user@host'), null);
  });
});
