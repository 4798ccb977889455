import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { startHostagent, type RunningHostagent } from '../../services/hostagent/hostagent.app';
import { buildRole, fileRole, heartbeatBody, newHostId, tempDir } from '../support/fixtures';
import { RawAmqp, type Capture } from '../support/raw-amqp';
import { brokerUrl, databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { waitFor } from '../support/wait';

const run = promisify(execFile);
const DEBIAN_PYTHON = '/usr/bin/python3';
const FUZZ_RUNS = 120;

// The reproduction, as an outside program sends it: pika, guest, pf9.api.
const PIKA_PUBLISH = `
import sys, uuid, pika
url, kind, body = sys.argv[1], sys.argv[2], sys.argv[3]
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
ch.confirm_delivery()
ch.basic_publish('pf9.api', kind, body.encode('utf-8'), pika.BasicProperties(content_type='application/json', type=kind, message_id=str(uuid.uuid4()), delivery_mode=2))
conn.close()
`;
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

const DEEP = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

/** Config text with every key a careless copy would lose or trip on; it must reach the host byte for byte. */
const TRICKY_CONFIG = '{"constructor":{"prototype":{"toString":"x"}},"toString":1,"valueOf":[1,2],"hasOwnProperty":null,"prototype":"p","n":1.5e300,"big":9007199254740991,"s":"\\u00e9\\ud83d\\ude00"}';

/** A request as the plane's admin when given the plane, as nobody when given a bare URL (the join and package listeners). */
async function http(plane: AuthenticatedPlane | string, method: string, path: string, body?: Buffer | string, contentType = 'application/json'): Promise<{ status: number; body: unknown }> {
  const init: RequestInit = { method, headers: body === undefined ? {} : { 'content-type': contentType }, body };
  const res = typeof plane === 'string' ? await fetch(plane + path, init) : await planeFetch(plane, plane.url + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: res.status, body: parsed };
}

function code(answer: { body: unknown }): string | undefined {
  return (answer.body as { error?: { code?: string } } | null)?.error?.code;
}

for (const kind of DATABASE_KINDS) {
  describe(`poison input never stops the role store (${kind})`, () => {
    let rs: RunningRolestore;
    let raw: RawAmqp;
    let dead: Capture;
    let control: Capture;

    before(async () => {
      raw = await RawAmqp.open();
      await raw.purge('pf9.rolestore.api');
      await raw.purge('pf9.rolestore.events');
      const dataDir = await tempDir(`poison-${kind}`);
      rs = await startRolestore(
        { AMQP_URL: brokerUrl(), DATABASE_URL: databaseUrlFor(kind, dataDir), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' },
        { waitForBrokerMs: 15_000 },
      );
      dead = await raw.capture('pf9.dlx', '');
      control = await raw.capture('pf9.control', 'host.#');
    });

    after(async () => {
      await rs?.close();
      await raw?.close();
    });

    /** The role store still consumes both queues, and nothing waits in them: no redelivery loop. */
    async function stillServing(): Promise<void> {
      for (const queue of ['pf9.rolestore.api', 'pf9.rolestore.events']) {
        await waitFor(`${queue} drained, with its consumer`, async () => {
          const q = await raw.channel.checkQueue(queue);
          return q.messageCount === 0 && q.consumerCount === 1;
        });
      }
      assert.equal((await http(rs, 'GET', '/healthz')).status, 200);
      const answer = await raw.request('host.authorize', { hostId: newHostId() });
      assert.equal((answer.body as { error: { code: string } }).error.code, 'NOT_FOUND');
    }

    async function authorizedHost(): Promise<string> {
      const hostId = newHostId();
      await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat', contentType: 'application/json' });
      await waitFor('the host', async () => (await http(rs, 'GET', `/v1/hosts/${hostId}`)).status === 200);
      assert.equal((await http(rs, 'POST', `/v1/hosts/${hostId}/authorize`)).status, 200);
      return hostId;
    }

    test('the issue\'s reproduction: config {"constructor":1} published with pika is answered, not fatal', async () => {
      try {
        await run(DEBIAN_PYTHON, ['-c', 'import pika']);
      } catch {
        throw new Error(`python3-pika is not installed for ${DEBIAN_PYTHON}: apt-get install python3-pika (.ci/run does)`);
      }
      const hostId = await authorizedHost();
      const name = `poison-${kind}`;
      assert.equal((await http(rs, 'POST', '/v1/roles', await buildRole(fileRole(name, '1.0.0')), 'application/gzip')).status, 201);
      await run(DEBIAN_PYTHON, ['-c', PIKA_PUBLISH, brokerUrl(), 'role.assign', JSON.stringify({ hostId, role: name, config: { constructor: 1 } })]);
      const pushed = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && (m.body as { roles: unknown[] }).roles.length === 1);
      assert.deepEqual((pushed.body as { roles: Array<{ config: unknown }> }).roles[0]!.config, { constructor: 1 });
      await stillServing();
    });

    test('poison on pf9.api: VALIDATION_FAILED answered and dead-lettered with the reason; the consumer goes on', async () => {
      const poisons: Array<[string, string | Buffer, RegExp]> = [
        ['__proto__ in the config', '{"hostId":"h1","role":"demo","config":{"__proto__":{"isAdmin":true}}}', /__proto__ is not allowed/],
        ['__proto__ at the top', '{"__proto__":{"hostId":"h1"},"role":"demo"}', /__proto__ is not allowed/],
        ['prototype at the top', '{"hostId":"h1","role":"demo","prototype":{}}', /prototype is not allowed/],
        ['nesting 10,000 deep', `{"hostId":"h1","role":"demo","config":${DEEP(10_000)}}`, /nests deeper/],
        ['a number beyond 2^53', '{"hostId":"h1","role":"demo","config":{"id":9007199254740993}}', /cannot be represented exactly/],
        ['a huge string within the size limit', JSON.stringify({ hostId: 'h'.repeat(900_000), role: 'demo' }), /hostId must be/],
        ['a huge array within the size limit', `{"hostId":"h1","role":"demo","config":[${'1,'.repeat(300_000)}1]}`, /config must be a JSON object/],
        ['a wrong type', '{"hostId":{"constructor":1},"role":"demo"}', /hostId must be/],
        ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), /not valid UTF-8/],
      ];
      for (const [name, body, reason] of poisons) {
        const messageId = randomUUID();
        const answer = await raw.request('role.assign', body, { type: 'role.assign', messageId });
        assert.equal((answer.body as { ok: boolean }).ok, false, name);
        assert.equal((answer.body as { error: { code: string } }).error.code, 'VALIDATION_FAILED', name);
        const letter = await dead.next((m) => m.properties.messageId === messageId);
        assert.match(String(letter.properties.headers?.['x-pf9-error']), reason, name);
      }
      await stillServing();
    });

    test('poison on pf9.events: heartbeats and reports that would break the plane are dead-lettered, others still land', async () => {
      const hostId = newHostId();
      const hb = (overrides: Record<string, unknown>) => JSON.stringify(heartbeatBody(hostId, overrides));
      const noCpu = heartbeatBody(hostId);
      delete noCpu.cpu;
      delete noCpu.memory;
      delete noCpu.os;
      const poisons: Array<[string, string, string, RegExp]> = [
        ['host.heartbeat', 'heartbeat', JSON.stringify(noCpu), /cpu is required/],
        ['host.heartbeat', 'heartbeat', hb({ hostname: 'nul\u0000host' }), /must not contain NUL/],
        ['host.heartbeat', 'heartbeat', hb({ cpu: [] }), /cpu must be a JSON object/],
        ['host.heartbeat', 'heartbeat', hb({ storage: Array.from({ length: 5000 }, () => ({})) }), /no more than 1024/],
        ['host.heartbeat', 'heartbeat', hb({ constructor: { name: 'x' } }), /constructor is not allowed/],
        ['host.heartbeat', 'heartbeat', `{"hostId":"${hostId}","x":${DEEP(10_000)}}`, /nests deeper/],
        ['role.status', 'role-status', JSON.stringify({ hostId, role: 'r', version: '1.0.0', generation: 1e20, state: 'applied' }), /generation must not be greater/],
        ['host.sync', 'sync', `{"hostId":"${hostId}","reason":"start","knownGeneration":123456789012345678901}`, /cannot be represented exactly/],
      ];
      for (const [type, event, body, reason] of poisons) {
        const messageId = randomUUID();
        await raw.publish('pf9.events', `host.${hostId}.${event}`, body, { type, contentType: 'application/json', messageId });
        const letter = await dead.next((m) => m.properties.messageId === messageId);
        assert.match(String(letter.properties.headers?.['x-pf9-error']), /^VALIDATION_FAILED: /, type);
        assert.match(String(letter.properties.headers?.['x-pf9-error']), reason, type);
      }
      await raw.publish('pf9.events', `host.${hostId}.heartbeat`, heartbeatBody(hostId), { type: 'host.heartbeat', contentType: 'application/json' });
      await waitFor('the good heartbeat after the poison', async () => (await http(rs, 'GET', `/v1/hosts/${hostId}`)).status === 200);
      await stillServing();
    });

    test("a role's config reaches the host exactly as it was given, over pf9.api and over REST", async () => {
      const hostId = await authorizedHost();
      const name = `exact-${kind}`;
      assert.equal((await http(rs, 'POST', '/v1/roles', await buildRole(fileRole(name, '1.0.0')), 'application/gzip')).status, 201);
      const answer = await raw.request('role.assign', `{"hostId":"${hostId}","role":"${name}","config":${TRICKY_CONFIG}}`, { type: 'role.assign' });
      assert.equal((answer.body as { ok: boolean }).ok, true, JSON.stringify(answer.body));
      // The same JSON value, every key in its order (numbers and escapes may be spelled as JSON.stringify spells them).
      const expected = JSON.stringify(JSON.parse(TRICKY_CONFIG));
      const configOf = (m: { raw: Buffer }) => (JSON.parse(m.raw.toString('utf8')) as { roles: Array<{ config: unknown }> }).roles.map((r) => JSON.stringify(r.config));
      const pushed = await control.next((m) => m.routingKey === `host.${hostId}.desired-state` && configOf(m).includes(expected));
      assert.deepEqual(configOf(pushed), [expected]);
      const view = (await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ config: unknown }> };
      assert.deepEqual(view.roles[0]!.config, JSON.parse(TRICKY_CONFIG));

      const put = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, `{"config":${TRICKY_CONFIG.replace('"n":1.5e300', '"n":2')}}`);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const again = (await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ config: Record<string, unknown> }> };
      assert.equal(JSON.stringify(Object.keys(again.roles[0]!.config)), JSON.stringify(Object.keys(JSON.parse(TRICKY_CONFIG) as object)));
      assert.equal(again.roles[0]!.config.n, 2);
    });

    test('poison over REST: 400 VALIDATION_FAILED, never a 500', async () => {
      const hostId = await authorizedHost();
      const bodies: Array<[string, string | Buffer]> = [
        ['__proto__ in the config', '{"config":{"__proto__":{"polluted":1}}}'],
        ['__proto__ at the top', '{"__proto__":{}}'],
        ['constructor at the top', '{"constructor":{}}'],
        ['nesting 10,000 deep', `{"config":${DEEP(10_000)}}`],
        ['a number beyond 2^53', '{"config":{"n":18446744073709551616}}'],
        ['a wrong type', '{"config":[1,2]}'],
        ['a string where an object is expected', '{"config":"x"}'],
        ['JSON that is not an object', '[1,2,3]'],
        ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
        ['not JSON', '{"config":'],
      ];
      for (const [name, body] of bodies) {
        const answer = await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/demo`, body);
        assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.body)}`);
        assert.equal(code(answer), 'VALIDATION_FAILED', name);
      }
      const tokens = await http(rs, 'POST', '/v1/join-tokens', '{"ttlS":9007199254740993}');
      assert.equal(tokens.status, 400);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    test('no body on any route and listener gets a 500 (fuzz, fixed seed)', async () => {
      const hostId = await authorizedHost();
      const dangerousKey = fc.constantFrom('constructor', '__proto__', 'prototype', 'toString', 'config', 'version', 'ttlS', 'hostId', 'token', 'csr', 'certificate', 'proof', 'hostname');
      const json = fc.letrec((tie) => ({
        v: fc.oneof(
          { depthSize: 'small' },
          fc.constant(null),
          fc.boolean(),
          fc.double(),
          fc.string(),
          fc.array(tie('v'), { maxLength: 3 }),
          fc.dictionary(fc.oneof(dangerousKey, fc.string()), tie('v'), { maxKeys: 4 }),
        ),
      })).v;
      const body = fc.oneof(
        json.map((v) => JSON.stringify(v) ?? 'null'),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
        fc.constantFrom(`{"config":${DEEP(5000)}}`, '{"config":{"n":1e999}}', '{"token":"x","hostId":"a","hostname":"h","csr":"-----BEGIN CERTIFICATE REQUEST-----\\nAAAA\\n-----END CERTIFICATE REQUEST-----"}'),
      );
      const target = fc.constantFrom(
        { base: rs as AuthenticatedPlane | string, method: 'PUT', path: `/v1/hosts/${hostId}/roles/demo` },
        { base: rs as AuthenticatedPlane | string, method: 'PUT', path: '/v1/hosts/%00/roles/x%2F..' },
        { base: rs as AuthenticatedPlane | string, method: 'POST', path: '/v1/join-tokens' },
        { base: rs as AuthenticatedPlane | string, method: 'POST', path: '/v1/roles' },
        { base: rs as AuthenticatedPlane | string, method: 'POST', path: `/v1/hosts/${hostId}/authorize` },
        { base: rs.joinUrl, method: 'POST', path: '/v1/join' },
        { base: rs.joinUrl, method: 'POST', path: '/v1/renew' },
        { base: rs.hostApiUrl, method: 'GET', path: '/v1/roles/constructor/1.0.0/package' },
      );
      const contentType = fc.constantFrom('application/json', 'application/gzip', 'text/plain', 'application/json; charset=utf-8');
      await fc.assert(
        fc.asyncProperty(target, body, contentType, async (t, b, type) => {
          const answer = await http(t.base, t.method, t.path, t.method === 'GET' ? undefined : b, type);
          assert.ok(answer.status < 500, `${t.method} ${t.path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
          if (answer.status >= 400) assert.equal(typeof code(answer), 'string', `${t.method} ${t.path}: error body ${JSON.stringify(answer.body)}`);
        }),
        { seed: 20261207, numRuns: FUZZ_RUNS },
      );
      await stillServing();
    });
  });
}

describe('poison on a host queue never stops the host agent', () => {
  let rs: RunningRolestore;
  let agent: RunningHostagent;
  let raw: RawAmqp;
  let root: string;

  before(async () => {
    raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.api');
    await raw.purge('pf9.rolestore.events');
    root = await tempDir('poison-host');
    rs = await startRolestore({ AMQP_URL: brokerUrl(), PF9_DATA_DIR: await tempDir('poison-plane'), PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'off', PF9_INSECURE_SHARED_BROKER_USER: 'guest', PF9_LOG_LEVEL: 'error' }, { waitForBrokerMs: 15_000 });
    agent = await startHostagent({ AMQP_URL: brokerUrl(), PF9_API_URL: rs.hostApiUrl, PF9_ROOT: root, PF9_HEARTBEAT_INTERVAL_S: '1', PF9_CONVERGE_INTERVAL_S: '2', PF9_AGENT_METRICS_PORT: '0', PF9_LOG_LEVEL: 'error' });
  });

  after(async () => {
    await agent?.close();
    await rs?.close();
    await raw?.close();
  });

  test('forged or broken desired states are dead-lettered; the agent still applies the real one, config exactly', async () => {
    const hostId = agent.hostId;
    await waitFor('the host', async () => (await http(rs, 'GET', `/v1/hosts/${hostId}`)).status === 200);
    const dead = await raw.capture('pf9.dlx', '');
    const role = { name: 'x', version: '1.0.0', sha256: 'a'.repeat(64), config: {}, generation: 1 };
    const poisons = [
      `{"hostId":"${hostId}","state":"authorized","generation":1,"roles":${DEEP(10_000)}}`,
      `{"hostId":"${hostId}","state":"authorized","generation":1,"roles":{}}`,
      `{"hostId":"${hostId}","state":"authorized","generation":1,"roles":[{"__proto__":{}}]}`,
      `{"hostId":"${hostId}","state":"authorized","generation":9007199254740993,"roles":[]}`,
      JSON.stringify({ hostId, state: 'authorized', generation: 1, roles: [{ ...role, config: [] }] }),
    ];
    for (const body of poisons) {
      const messageId = randomUUID();
      await raw.publish('pf9.control', `host.${hostId}.desired-state`, body, { type: 'host.desired-state', contentType: 'application/json', messageId });
      const letter = await dead.next((m) => m.properties.messageId === messageId);
      assert.match(String(letter.properties.headers?.['x-pf9-error']), /^VALIDATION_FAILED: /);
    }
    assert.equal(agent.runtime.engine.generation, 0);

    const name = 'exact-host';
    assert.equal((await http(rs, 'POST', '/v1/roles', await buildRole(fileRole(name, '1.0.0')), 'application/gzip')).status, 201);
    assert.equal((await http(rs, 'POST', `/v1/hosts/${hostId}/authorize`)).status, 200);
    assert.equal((await http(rs, 'PUT', `/v1/hosts/${hostId}/roles/${name}`, `{"config":${TRICKY_CONFIG}}`)).status, 200);
    await waitFor('the role applied', async () => {
      const view = (await http(rs, 'GET', `/v1/hosts/${hostId}`)).body as { roles: Array<{ state: string }> };
      return view.roles[0]?.state === 'applied';
    });
    // The configure hook wrote what it read on its standard input.
    assert.deepEqual(JSON.parse(await readFile(join(root, `etc/${name}/config.json`), 'utf8')), JSON.parse(TRICKY_CONFIG));
    assert.equal(await readFile(join(root, `etc/${name}/config.json`), 'utf8'), JSON.stringify(JSON.parse(TRICKY_CONFIG)));
  });
});
