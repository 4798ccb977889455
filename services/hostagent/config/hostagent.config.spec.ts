import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadHostagentConfig } from './hostagent.config';

describe('host agent configuration: certificate renewal', () => {
  test('looks hourly, and renews once a third of the lifetime is left, by default', () => {
    const config = loadHostagentConfig({});
    assert.equal(config.certRenewCheckS, 3600);
    assert.equal(config.certRenewBeforeDays, undefined);
    assert.equal(loadHostagentConfig({ PF9_CERT_RENEW_BEFORE_DAYS: '' }).certRenewBeforeDays, undefined);
  });

  test('takes PF9_CERT_RENEW_CHECK_S and PF9_CERT_RENEW_BEFORE_DAYS', () => {
    const config = loadHostagentConfig({ PF9_CERT_RENEW_CHECK_S: '600', PF9_CERT_RENEW_BEFORE_DAYS: '30' });
    assert.deepEqual([config.certRenewCheckS, config.certRenewBeforeDays], [600, 30]);
  });

  test('refuses values a timer cannot hold, and what is not a whole number', () => {
    for (const [name, value] of [
      ['PF9_CERT_RENEW_CHECK_S', '0'],
      ['PF9_CERT_RENEW_CHECK_S', '2000000'],
      ['PF9_CERT_RENEW_CHECK_S', 'hourly'],
      ['PF9_CERT_RENEW_BEFORE_DAYS', '0'],
      ['PF9_CERT_RENEW_BEFORE_DAYS', '1.5'],
    ]) {
      assert.throws(() => loadHostagentConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.message.includes(name), `${name}=${value}`);
    }
  });
});

describe("host agent configuration: pf9-comms's sockets and user", () => {
  test('TCP URLs and no comms user unless told otherwise; a socket folder must be an absolute path', () => {
    assert.deepEqual([loadHostagentConfig({}).commsSocketDir, loadHostagentConfig({}).commsUser], ['', '']);
    const config = loadHostagentConfig({ PF9_COMMS_SOCKET_DIR: '/run/pf9-comms/', PF9_COMMS_USER: 'pf9' });
    assert.deepEqual([config.commsSocketDir, config.commsUser], ['/run/pf9-comms', 'pf9']);
    assert.throws(() => loadHostagentConfig({ PF9_COMMS_SOCKET_DIR: 'run/pf9-comms' }), (err: unknown) => err instanceof ConfigError && /PF9_COMMS_SOCKET_DIR/.test(err.message));
  });
});
