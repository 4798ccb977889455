import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { verifyAuditChain } from '#audit-chain';
import { HOST_AUTHORIZE, HOST_DEAUTHORIZE, ROLE_ASSIGN, type AuditRecordView, type OperatorTokenCreatedView } from '#contracts';
import { runCli } from '../../cli/cli';
import { Database } from '../../services/rolestore/database/database';
import { UNPROVEN_REFUSALS_PER_SOURCE, UnprovenRefusals } from '../../services/rolestore/operators/unproven-refusals';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

interface Answer {
  status: number;
  body: unknown;
}

const codeOf = (answer: Answer): string | undefined => (answer.body as { error?: { code?: string } } | null)?.error?.code;

/** A request as any HTTP client sends it: `token` as a bearer token when given, a JSON body when given. */
async function call(base: string, token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, body: json ? (JSON.parse(text) as unknown) : text };
}

/** A request with a Host header of our choosing (fetch sends the URL's). */
function withHost(url: string, host: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('operators on the REST API and pf9.api (CONTRACT.md section 8)', () => {
  let rs: RunningRolestore;
  let raw: RawAmqp;
  let dataDir: string;
  const admin = (): string => {
    assert.ok(rs.adminToken, 'the role store made its first admin token');
    return rs.adminToken;
  };
  const api = (token: string | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> => call(rs.url, token, method, path, body, headers);

  async function newToken(role: string, extra: Record<string, unknown> = {}): Promise<OperatorTokenCreatedView> {
    const created = await api(admin(), 'POST', '/v1/tokens', { name: `${role}-${randomUUID().slice(0, 8)}`, role, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as OperatorTokenCreatedView;
  }

  async function knownHost(): Promise<string> {
    const hostId = newHostId();
    await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat' });
    await waitFor('the host', async () => (await api(admin(), 'GET', `/v1/hosts/${hostId}`)).status === 200);
    return hostId;
  }

  async function auditSince(since: string, token = admin()): Promise<AuditRecordView[]> {
    const answer = await api(token, 'GET', `/v1/audit?since=${encodeURIComponent(since)}&limit=1000`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as AuditRecordView[];
  }

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    dataDir = await tempDir('operators');
    // Hosts here are raw clients on the broker user they share with the plane (insecure).
    rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
  });

  after(async () => {
    await rs?.close();
    await raw?.close();
  });

  test('the first admin token is in <PF9_DATA_DIR>/admin.token (0600, the token alone on one line) and is an admin', async () => {
    const file = join(dataDir, 'admin.token');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^\S+\n$/);
    assert.equal(text.trim(), admin());
    const list = await api(text.trim(), 'GET', '/v1/tokens');
    assert.equal(list.status, 200);
    assert.ok((list.body as Array<{ role: string }>).some((t) => t.role === 'admin'));
  });

  test('POST /v1/tokens answers {id,name,role,token,expiresAt} once, with at least 256 random bits; GET lists without secrets; bad requests 400', async () => {
    const forever = await newToken('viewer');
    assert.deepEqual(Object.keys(forever).sort(), ['expiresAt', 'id', 'name', 'role', 'token']);
    assert.equal(forever.role, 'viewer');
    assert.equal(forever.expiresAt, null);
    const secret = forever.token.replace(/^hp_/, '');
    assert.ok(Buffer.from(secret, 'base64url').length >= 32, `${secret.length} characters of base64url`);
    const hour = await newToken('operator', { ttlS: 3600 });
    assert.ok(Math.abs(Date.parse(hour.expiresAt!) - Date.now() - 3600_000) < 60_000, String(hour.expiresAt));
    assert.notEqual(hour.token, forever.token);

    const list = await api(admin(), 'GET', '/v1/tokens');
    assert.equal(list.status, 200);
    const text = JSON.stringify(list.body);
    for (const t of [forever, hour]) {
      assert.ok(!text.includes(t.token.slice(4)), 'no secret in the list');
      const listed = (list.body as Array<Record<string, unknown>>).find((x) => x.id === t.id);
      assert.ok(listed, 'listed');
      assert.equal(listed.name, t.name);
      assert.equal('token' in listed, false);
    }
    for (const body of [{ name: 'x', role: 'root' }, { role: 'viewer' }, { name: 'x', role: 'viewer', ttlS: 0 }, { name: 'x', role: 'viewer', ttlS: -5 }, { name: 'x', role: 'viewer', ttlS: '60' }, { name: 'a b\u001b[31m', role: 'viewer' }]) {
      const answer = await api(admin(), 'POST', '/v1/tokens', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(codeOf(answer), 'VALIDATION_FAILED');
    }
  });

  test('each role includes the one before: a viewer reads, an operator changes, an admin manages tokens and decommissions hosts', async () => {
    const hostId = await knownHost();
    const viewer = (await newToken('viewer')).token;
    const operator = (await newToken('operator')).token;
    for (const path of ['/v1/hosts', `/v1/hosts/${hostId}`, '/v1/roles']) assert.equal((await api(viewer, 'GET', path)).status, 200, path);
    const refusedToViewer: Array<[string, string, unknown?]> = [
      ['POST', `/v1/hosts/${hostId}/authorize`],
      ['PUT', `/v1/hosts/${hostId}/roles/demo`, { config: {} }],
      ['POST', '/v1/join-tokens', {}],
      ['GET', '/v1/audit'],
      ['GET', '/v1/tokens'],
    ];
    for (const [method, path, body] of refusedToViewer) {
      const answer = await api(viewer, method, path, body);
      assert.equal(answer.status, 403, `${method} ${path}`);
      assert.equal(codeOf(answer), 'FORBIDDEN');
    }
    assert.equal((await api(operator, 'POST', `/v1/hosts/${hostId}/authorize`)).status, 200);
    assert.equal((await api(operator, 'POST', '/v1/join-tokens', {})).status, 201);
    assert.equal((await api(operator, 'GET', '/v1/audit')).status, 200);
    for (const [method, path, body] of [['POST', '/v1/tokens', { name: 'x', role: 'viewer' }], ['GET', '/v1/tokens'], ['DELETE', `/v1/hosts/${hostId}`]] as const) {
      assert.equal(codeOf(await api(operator, method, path, body)), 'FORBIDDEN', `${method} ${path}`);
    }
    assert.equal((await api(admin(), 'GET', `/v1/hosts/${hostId}`)).status, 200, 'nothing refused was done');
    assert.equal((await api(admin(), 'DELETE', `/v1/hosts/${hostId}`)).status, 200);
    assert.equal((await api(admin(), 'GET', `/v1/hosts/${hostId}`)).status, 404);
  });

  test('401 UNAUTHENTICATED: no token, an unknown one, one revoked (at once) or expired; a cookie, basic auth or a query parameter count for nothing', async () => {
    const hostId = await knownHost();
    for (const token of [null, 'nope', `hp_${'A'.repeat(43)}`]) {
      for (const [method, path] of [['GET', '/v1/hosts'], ['POST', `/v1/hosts/${hostId}/authorize`]] as const) {
        const answer = await api(token, method, path);
        assert.equal(answer.status, 401, `${String(token)} ${method} ${path}`);
        assert.equal(codeOf(answer), 'UNAUTHENTICATED');
      }
    }
    const good = admin();
    const ambient: Array<Record<string, string>> = [{ cookie: `token=${good}; authorization=Bearer ${good}; hostplane_token=${good}` }, { authorization: `Basic ${Buffer.from(`admin:${good}`).toString('base64')}` }, { authorization: good }, { 'x-auth-token': good }];
    for (const headers of ambient) {
      assert.equal((await api(null, 'GET', '/v1/hosts', undefined, headers)).status, 401, JSON.stringify(Object.keys(headers)));
    }
    for (const query of [`access_token=${good}`, `token=${good}`]) assert.equal((await api(null, 'GET', `/v1/hosts?${query}`)).status, 401, query);
    for (const path of ['/healthz', '/metrics']) assert.equal((await api(null, 'GET', path)).status, 200, `${path} needs no token`);

    const revoked = await newToken('operator');
    assert.equal((await api(revoked.token, 'GET', '/v1/hosts')).status, 200);
    const revocation = await api(admin(), 'DELETE', `/v1/tokens/${revoked.id}`);
    assert.equal(revocation.status, 200, JSON.stringify(revocation.body));
    assert.equal(codeOf(await api(revoked.token, 'POST', `/v1/hosts/${hostId}/authorize`)), 'UNAUTHENTICATED', 'revoked at once');
    assert.equal((await api(admin(), 'DELETE', `/v1/tokens/${randomUUID()}`)).status, 404);

    const brief = await newToken('operator', { ttlS: 1 });
    assert.equal((await api(brief.token, 'GET', '/v1/hosts')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(codeOf(await api(brief.token, 'GET', '/v1/hosts')), 'UNAUTHENTICATED', 'expired');
    assert.equal(((await api(admin(), 'GET', `/v1/hosts/${hostId}`)).body as { state: string }).state, 'unauthorized', 'nothing refused was done');
  });

  test('a Host the plane does not answer to gets 421 even with a good token (DNS rebinding); a body a form can send gets 415', async () => {
    const { port } = new URL(rs.url);
    const url = `${rs.url}/v1/hosts`;
    assert.equal(await withHost(url, `127.0.0.1:${port}`, admin()), 200);
    assert.equal(await withHost(url, `localhost:${port}`, admin()), 200);
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.nip.io:${port}`]) assert.equal(await withHost(url, host, admin()), 421, host);

    const hostId = await knownHost();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const answer = await api(admin(), 'PUT', `/v1/hosts/${hostId}/roles/demo`, '{"config":{}}', { 'content-type': type });
      assert.equal(answer.status, 415, type);
      assert.equal((await api(admin(), 'POST', `/v1/hosts/${hostId}/authorize`, 'x=1', { 'content-type': type })).status, 415, type);
    }
    assert.equal(((await api(admin(), 'GET', `/v1/hosts/${hostId}`)).body as { state: string }).state, 'unauthorized', 'nothing refused was done');
  });

  test('audit: every change and every refusal, over REST and pf9.api, recorded once with actor, action, target, outcome and source; a re-sent command is not recorded twice', async () => {
    const hostId = await knownHost();
    const since = new Date(Date.now() - 1).toISOString();
    const operator = await newToken('operator');
    const viewer = await newToken('viewer');
    await api(viewer.token, 'POST', `/v1/hosts/${hostId}/authorize`);
    await api(null, 'POST', `/v1/hosts/${hostId}/authorize`);
    await api('nope', 'POST', `/v1/hosts/${hostId}/authorize`);
    await api(operator.token, 'POST', `/v1/hosts/${hostId}/authorize`);
    const messageId = randomUUID();
    const first = await raw.request(HOST_DEAUTHORIZE, { hostId }, { type: HOST_DEAUTHORIZE, messageId });
    const again = await raw.request(HOST_DEAUTHORIZE, { hostId }, { type: HOST_DEAUTHORIZE, messageId });
    assert.deepEqual(again.body, first.body, 'the same reply');
    const unknown = newHostId();
    await raw.request(HOST_AUTHORIZE, { hostId: unknown }, { type: HOST_AUTHORIZE, messageId: randomUUID() });
    await raw.request(ROLE_ASSIGN, { hostId: unknown, role: 'demo' }, { type: ROLE_ASSIGN, messageId: randomUUID(), userId: 'guest' });

    const records = await auditSince(since, operator.token);
    const about = (target: string) => records.filter((r) => r.target === target).map((r) => [r.actor, r.action, r.outcome, r.source]);
    const http = /^http:(::ffff:)?127\.0\.0\.1$|^http:::1$/;
    const host = about(`host/${hostId}`);
    assert.deepEqual(
      host.map(([actor, action, outcome]) => [actor, action, outcome]),
      [
        [`token:${viewer.name}`, HOST_AUTHORIZE, 'FORBIDDEN'],
        ['token:anonymous', HOST_AUTHORIZE, 'UNAUTHENTICATED'],
        ['token:invalid', HOST_AUTHORIZE, 'UNAUTHENTICATED'],
        [`token:${operator.name}`, HOST_AUTHORIZE, 'ok'],
        ['amqp:anonymous', HOST_DEAUTHORIZE, 'ok'],
      ],
    );
    for (const [, , , source] of host.slice(0, 4)) assert.match(String(source), http);
    assert.equal(host[4]![3], 'amqp:anonymous');
    assert.deepEqual(about(`host/${unknown}`), [['amqp:anonymous', HOST_AUTHORIZE, 'NOT_FOUND', 'amqp:anonymous']]);
    assert.deepEqual(about(`host/${unknown}/role/demo`), [['amqp:guest', ROLE_ASSIGN, 'FORBIDDEN', 'amqp:guest']], 'a broker user PF9_OPERATOR_BROKER_USERS does not name');
    const tokenRecords = records.filter((r) => r.action === 'token.create').map((r) => [r.actor, r.outcome]);
    assert.deepEqual(tokenRecords, [['token:admin', 'ok'], ['token:admin', 'ok']]);
    for (const r of records) {
      assert.ok(Object.keys(r).includes('details') && Object.keys(r).includes('id') && Object.keys(r).includes('at'));
      assert.ok(!JSON.stringify(r).includes(operator.token.slice(4)) && !JSON.stringify(r).includes(viewer.token.slice(4)), 'no secret in the audit log');
    }
  });

  test("a message_id is its sender's: another sender reusing it gets neither that reply nor a refusal in place of its own command", async () => {
    const hostId = await knownHost();
    const messageId = randomUUID();
    const refused = await raw.request(HOST_AUTHORIZE, { hostId }, { type: HOST_AUTHORIZE, messageId, userId: 'guest' });
    assert.equal((refused.body as { error: { code: string } }).error.code, 'FORBIDDEN');
    const done = await raw.request(HOST_AUTHORIZE, { hostId }, { type: HOST_AUTHORIZE, messageId });
    assert.deepEqual(done.body, { ok: true, result: { hostId, state: 'authorized' } });
    const again = await raw.request(HOST_AUTHORIZE, { hostId }, { type: HOST_AUTHORIZE, messageId, userId: 'guest' });
    assert.equal((again.body as { error: { code: string } }).error.code, 'FORBIDDEN', "the first sender's own re-send: its own reply");
  });

  test('no body is read for a request the API refuses: a 100 MB upload without a token, or by a viewer, is answered at once and the connection closed', async () => {
    const viewer = (await newToken('viewer')).token;
    const { port } = new URL(rs.url);
    const answerBeforeBody = (headers: Record<string, string>): Promise<{ status: number; code: string | undefined; connection: string | undefined }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/roles', headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/gzip', 'content-length': String(100 * 1024 * 1024), ...headers } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code: string } }).error?.code, connection: res.headers.connection }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        // A first megabyte, and then nothing: a server that waits for the other 99 never answers.
        req.write(Buffer.alloc(1024 * 1024));
        setTimeout(() => req.destroy(), 10_000).unref();
      });
    assert.deepEqual(await answerBeforeBody({}), { status: 401, code: 'UNAUTHENTICATED', connection: 'close' });
    assert.deepEqual(await answerBeforeBody({ authorization: 'Bearer nope' }), { status: 401, code: 'UNAUTHENTICATED', connection: 'close' });
    assert.deepEqual(await answerBeforeBody({ authorization: `Bearer ${viewer}` }), { status: 403, code: 'FORBIDDEN', connection: 'close' });
  });

  test('a compressed body is 415, never inflated and never a 500', async () => {
    for (const encoding of ['gzip', 'deflate', 'br', 'zstd', 'x-unknown']) {
      const answer = await api(admin(), 'POST', '/v1/join-tokens', '{"ttlS":60}', { 'content-encoding': encoding });
      assert.equal(answer.status, 415, encoding);
      assert.equal(codeOf(answer), 'VALIDATION_FAILED');
      assert.equal((await api(null, 'POST', '/v1/nope', 'garbage', { 'content-encoding': encoding })).status < 500, true, encoding);
    }
  });

  test("the audit names what a route acted on from its path, whatever the body says; a token's name is one in use once", async () => {
    const hostId = await knownHost();
    const decoy = newHostId();
    const since = new Date(Date.now() - 1).toISOString();
    assert.equal((await api(admin(), 'POST', `/v1/hosts/${hostId}/authorize`, { hostId: decoy, id: decoy })).status, 200);
    const records = (await auditSince(since)).filter((r) => r.action === HOST_AUTHORIZE);
    assert.deepEqual(records.map((r) => r.target), [`host/${hostId}`]);

    const first = await newToken('operator');
    const again = await api(admin(), 'POST', '/v1/tokens', { name: first.name, role: 'admin' });
    assert.equal(again.status, 409);
    assert.equal(codeOf(again), 'CONFLICT');
    assert.equal((await api(admin(), 'DELETE', `/v1/tokens/${first.id}`)).status, 200);
    assert.equal((await api(admin(), 'POST', '/v1/tokens', { name: first.name, role: 'admin' })).status, 201, 'free again once revoked');
  });

  test('copies of one command delivered side by side are handled, answered and recorded once', async () => {
    const hostId = newHostId();
    const since = new Date(Date.now() - 1).toISOString();
    const messageId = randomUUID();
    const replies = await Promise.all(Array.from({ length: 12 }, () => raw.request(HOST_AUTHORIZE, { hostId }, { type: HOST_AUTHORIZE, messageId })));
    for (const reply of replies) assert.deepEqual(reply.body, replies[0]!.body);
    assert.equal((replies[0]!.body as { error: { code: string } }).error.code, 'NOT_FOUND');
    assert.equal((await auditSince(since)).filter((r) => r.target === `host/${hostId}`).length, 1);
  });

  test('refusals of requests without a valid token are recorded one by one up to a bound a minute, then counted: every one is in the log, which a client without a token cannot grow without end', async () => {
    const hostId = newHostId();
    const since = new Date(Date.now() - 1).toISOString();
    const sent = 300;
    for (let i = 0; i < sent; i++) await api(i % 2 === 0 ? null : 'nope', 'POST', `/v1/hosts/${hostId}/authorize`);
    await rs.app.get(UnprovenRefusals).flush();
    const records = await auditSince(since);
    const single = records.filter((r) => r.target === `host/${hostId}`);
    const counted = records.filter((r) => r.action === 'audit.suppressed');
    assert.ok(single.length <= 2 * UNPROVEN_REFUSALS_PER_SOURCE && single.length < sent, `${single.length} records of their own`);
    assert.ok(counted.length >= 1);
    assert.equal(single.length + counted.reduce((sum, r) => sum + Number(r.details.count), 0), sent, 'every refusal is in the log');
    assert.deepEqual(new Set(counted.map((r) => r.outcome)), new Set(['UNAUTHENTICATED']));
  });

  test('GET /v1/audit: oldest first, from `since`, at most `limit`; bad values 400; the log is never changed through the API', async () => {
    const all = await auditSince('2000-01-01T00:00:00Z');
    assert.ok(all.length >= 5);
    for (let i = 1; i < all.length; i++) assert.ok(Date.parse(all[i]!.at) >= Date.parse(all[i - 1]!.at), 'oldest first');
    const two = await api(admin(), 'GET', '/v1/audit?limit=2');
    assert.deepEqual((two.body as AuditRecordView[]).map((r) => r.id), all.slice(0, 2).map((r) => r.id));
    const later = await auditSince(all[3]!.at);
    assert.ok(later.every((r) => Date.parse(r.at) >= Date.parse(all[3]!.at)) && later.some((r) => r.id === all[3]!.id));
    for (const query of ['since=yesterday', 'limit=0', 'limit=-1', 'limit=abc', 'limit=100000']) {
      const answer = await api(admin(), 'GET', `/v1/audit?${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(codeOf(answer), 'VALIDATION_FAILED');
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      assert.equal((await api(admin(), method, `/v1/audit/${all[0]!.id}`, method === 'DELETE' ? undefined : {})).status, 404, method);
    }
    assert.deepEqual((await auditSince('2000-01-01T00:00:00Z')).slice(0, all.length), all, 'unchanged');
  });

  test('`hostplane audit verify` finds a record changed, or the last one removed, in the database itself', async () => {
    const state = await tempDir('audit-verify-state');
    const hostplane = async (...argv: string[]): Promise<{ code: number; out: string }> => {
      let out = '';
      const sink = { write: (c: string) => void (out += c) };
      const code = await runCli(argv, { stdout: sink, stderr: sink, env: { HOSTPLANE_API: rs.url, HOSTPLANE_TOKEN: admin(), XDG_STATE_HOME: state }, cwd: state });
      return { code, out };
    };
    const verified = await hostplane('audit', 'verify');
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /the audit log verifies: \d+ records/);
    const listed = await hostplane('audit', '--limit', '3');
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /ACTOR/);
    const records = await auditSince('2000-01-01T00:00:00Z');
    assert.equal(verifyAuditChain(records).ok, true);

    const db = rs.app.get(Database);
    const victim = records[2]!;
    await db.execute('UPDATE audit_log SET actor = $1 WHERE seq = $2', ['token:someone-else', victim.seq]);
    const changed = await hostplane('audit', 'verify');
    assert.equal(changed.code, 1, changed.out);
    assert.match(changed.out, new RegExp(`tampered with at record ${victim.seq}`));
    await db.execute('UPDATE audit_log SET actor = $1 WHERE seq = $2', [victim.actor, victim.seq]);
    assert.equal((await hostplane('audit', 'verify')).code, 0, 'put back as it was');

    const last = records[records.length - 1]!;
    await db.execute('DELETE FROM audit_log WHERE seq >= $1', [last.seq]);
    const cut = await hostplane('audit', 'verify');
    assert.equal(cut.code, 1, cut.out);
    assert.match(cut.out, /cut short/);
  });
});

describe('pf9.api by broker user: PF9_OPERATOR_BROKER_USERS and PF9_API_ANONYMOUS_ROLE', () => {
  let raw: RawAmqp;

  before(async () => {
    raw = await RawAmqp.open();
  });

  after(async () => {
    await raw?.close();
  });

  /** A role store with these settings; each command is for a host nobody knows, so NOT_FOUND means the guard let it through. */
  async function outcomes(env: Record<string, string | undefined>): Promise<{ asGuest: string; anonymous: string }> {
    await raw.purge('pf9.rolestore.api');
    const rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: await tempDir('operators-amqp'), PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'on', PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL, PF9_LOG_LEVEL: 'error', ...env },
      { waitForBrokerMs: 15_000 },
    );
    try {
      const ask = async (userId?: string): Promise<string> => {
        const reply = await raw.request(ROLE_ASSIGN, { hostId: newHostId(), role: 'demo' }, { type: ROLE_ASSIGN, messageId: randomUUID(), ...(userId === undefined ? {} : { userId }) });
        return (reply.body as { error: { code: string } }).error.code;
      };
      return { asGuest: await ask('guest'), anonymous: await ask() };
    } finally {
      await rs.close();
    }
  }

  test('a user_id the mapping gives a role acts with it; one it names with too small a role, or not at all, is FORBIDDEN; none acts as PF9_API_ANONYMOUS_ROLE', async () => {
    assert.deepEqual(await outcomes({ PF9_OPERATOR_BROKER_USERS: 'guest:operator' }), { asGuest: 'NOT_FOUND', anonymous: 'NOT_FOUND' });
    assert.deepEqual(await outcomes({ PF9_OPERATOR_BROKER_USERS: 'guest:viewer', PF9_API_ANONYMOUS_ROLE: 'none' }), { asGuest: 'FORBIDDEN', anonymous: 'UNAUTHENTICATED' });
    assert.deepEqual(await outcomes({ PF9_OPERATOR_BROKER_USERS: 'ci-bot:admin', PF9_API_ANONYMOUS_ROLE: 'viewer' }), { asGuest: 'FORBIDDEN', anonymous: 'FORBIDDEN' });
  });
});
