import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadRolestoreConfig } from './rolestore.config';

describe('role store configuration: its three listeners', () => {
  test('defaults: the REST API on 8080, registration on 8079, host packages on 8078, all on 127.0.0.1; an ephemeral API port makes them ephemeral too', () => {
    const config = loadRolestoreConfig({});
    assert.deepEqual([config.apiPort, config.joinPort, config.hostApiPort], [8080, 8079, 8078]);
    assert.deepEqual([config.apiHost, config.joinHost, config.hostApiHost], ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    const ephemeral = loadRolestoreConfig({ PF9_API_PORT: '0' });
    assert.deepEqual([ephemeral.apiPort, ephemeral.joinPort, ephemeral.hostApiPort], [0, 0, 0]);
    const set = loadRolestoreConfig({ PF9_HOST_API_PORT: '9000', PF9_HOST_API_HOST: '0.0.0.0' });
    assert.deepEqual([set.hostApiPort, set.hostApiHost], [9000, '0.0.0.0']);
  });

  test('two listeners on one port are refused at start, by name', () => {
    assert.throws(
      () => loadRolestoreConfig({ PF9_API_PORT: '8080', PF9_JOIN_PORT: '8080', PF9_HOST_API_PORT: '8080' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === "invalid role store configuration: PF9_JOIN_PORT: port 8080 is PF9_API_PORT's too, PF9_HOST_API_PORT: port 8080 is PF9_API_PORT's too",
    );
    assert.throws(() => loadRolestoreConfig({ PF9_HOST_API_PORT: '8079' }), /PF9_HOST_API_PORT: port 8079 is PF9_JOIN_PORT's too/);
  });
});

describe('role store configuration: DATABASE_URL', () => {
  test('postgres://, postgresql:// and sqlite:<file> are taken; the default is SQLite under PF9_DATA_DIR', () => {
    for (const url of ['postgres://u:p@db:5432/plane', 'postgresql://db/plane?schema=s', 'sqlite:/var/lib/hostplane/rolestore.db', 'sqlite:rolestore.db']) {
      assert.equal(loadRolestoreConfig({ DATABASE_URL: url }).databaseUrl, url);
    }
    assert.equal(loadRolestoreConfig({ PF9_DATA_DIR: '/srv/plane' }).databaseUrl, 'sqlite:/srv/plane/rolestore.db');
  });

  test('an unknown scheme, no scheme or an ambiguous sqlite URL stops the role store at boot, naming DATABASE_URL and never repeating a password', () => {
    for (const [url, problem] of [
      ['postgress://hostplane:s3cret@db:5432/plane', "DATABASE_URL: has the unknown scheme 'postgress:'"],
      ['mysql://db/plane', "DATABASE_URL: has the unknown scheme 'mysql:'"],
      ['/var/lib/hostplane/rolestore.db', 'DATABASE_URL: has no scheme'],
      ['sqlite:///rolestore.db', "DATABASE_URL: 'sqlite:///rolestore.db' is ambiguous"],
      ['sqlite:', "DATABASE_URL: 'sqlite:' names no file"],
    ] as const) {
      assert.throws(
        () => loadRolestoreConfig({ DATABASE_URL: url }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith(`invalid role store configuration: ${problem}`) && !err.message.includes('s3cret'),
        url,
      );
    }
  });
});

describe('role store configuration: who may send pf9.api commands', () => {
  test('PF9_OPERATOR_BROKER_USERS maps broker users to roles; PF9_API_ANONYMOUS_ROLE defaults to operator', () => {
    const config = loadRolestoreConfig({ PF9_OPERATOR_BROKER_USERS: 'ci:operator, ops-admin:admin,dash:viewer', PF9_API_ANONYMOUS_ROLE: 'none' });
    assert.deepEqual([...config.operatorBrokerUsers], [['ci', 'operator'], ['ops-admin', 'admin'], ['dash', 'viewer']]);
    assert.equal(config.apiAnonymousRole, 'none');
    assert.equal(loadRolestoreConfig({}).apiAnonymousRole, 'operator');
    assert.equal(loadRolestoreConfig({}).operatorBrokerUsers.size, 0);
  });

  test("a broker user hosts log in as is no operator's: a host's own, or the identity hosts share, stops the role store at boot", () => {
    for (const [env, problem] of [
      [{ PF9_OPERATOR_BROKER_USERS: 'pf9-host-h1:admin' }, /PF9_OPERATOR_BROKER_USERS: pf9-host-h1 is a host's broker user/],
      [{ PF9_OPERATOR_BROKER_USERS: 'guest:operator', PF9_INSECURE_SHARED_BROKER_USER: 'guest' }, /PF9_OPERATOR_BROKER_USERS: guest is PF9_INSECURE_SHARED_BROKER_USER/],
      [{ PF9_OPERATOR_BROKER_USERS: 'ci:root' }, /PF9_OPERATOR_BROKER_USERS: ci: 'root' is not one of viewer, operator, admin/],
      [{ PF9_OPERATOR_BROKER_USERS: 'ci' }, /PF9_OPERATOR_BROKER_USERS: 'ci' is not user:role/],
    ] as const) {
      assert.throws(() => loadRolestoreConfig(env), (err: unknown) => err instanceof ConfigError && problem.test(err.message), JSON.stringify(env));
    }
  });
});
