import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_API_URL, resolveApiUrl } from './cli.config';
import { UsageError } from './command';

describe('resolveApiUrl', () => {
  it('defaults to the plane on 127.0.0.1:8080', () => {
    assert.equal(resolveApiUrl(undefined, {}), DEFAULT_API_URL);
    assert.equal(DEFAULT_API_URL, 'http://127.0.0.1:8080');
  });

  it('takes --api, then HOSTPLANE_API, then PF9_API_PORT', () => {
    const env = { HOSTPLANE_API: 'https://plane.example/api/', PF9_API_PORT: '9000' };
    assert.equal(resolveApiUrl('http://other:1', env), 'http://other:1');
    assert.equal(resolveApiUrl(undefined, env), 'https://plane.example/api');
    assert.equal(resolveApiUrl(undefined, { PF9_API_PORT: '9000' }), 'http://127.0.0.1:9000');
    assert.equal(resolveApiUrl(undefined, { HOSTPLANE_API: ' ', PF9_API_PORT: '9000' }), 'http://127.0.0.1:9000');
  });

  it('refuses a port that is not one and a URL that is not http(s)', () => {
    assert.throws(() => resolveApiUrl(undefined, { PF9_API_PORT: '80a' }), UsageError);
    assert.throws(() => resolveApiUrl(undefined, { PF9_API_PORT: '70000' }), UsageError);
    assert.throws(() => resolveApiUrl('ftp://x', {}), UsageError);
    assert.throws(() => resolveApiUrl('not a url', {}), UsageError);
  });
});
