import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { getMetadataStorage } from 'class-validator';
import { parse } from 'yaml';
import {
  COMMAND_KINDS,
  ErrorCodes,
  Exchanges,
  Headers,
  HOST_DESIRED_STATE,
  HOST_ID_PATTERN,
  HOST_STATES,
  HOST_SYNC,
  MAX_BODY_BYTES,
  MESSAGE_CLASSES,
  nestedTypeOf,
  Queues,
  ROLE_NAME_PATTERN,
  ROLE_STATES,
  OperatorTokenCreateRequest,
  RoleAssignBody,
  RoutingKeys,
  SEMVER_PATTERN,
  TOKEN_REVIEW,
  type HostAuthorizeResult,
  type HostDeauthorizeResult,
  type HostDetailView,
  type HostRoleView,
  type HostSummaryView,
  type AuditRecordView,
  type MessageKind,
  type OperatorTokenCreatedView,
  type OperatorTokenView,
  type RoleAssignResult,
  type RoleUnassignResult,
  type RoleUploadView,
  type RoleVersionView,
  type RoleView,
  type TokenReviewUser,
} from '#contracts';

// Keeps docs/asyncapi.yaml, docs/openapi.yaml, docker-compose.yml and docker/Dockerfile
// honest: against libs/contracts (the source of truth for names and field constraints)
// and against the lines of CONTRACT.md v1 they describe.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const ROOT = findRepoRoot(__dirname);
const asyncapi = loadYaml('docs/asyncapi.yaml');
const openapi = loadYaml('docs/openapi.yaml');
const compose = loadYaml('docker-compose.yml');

/** The kinds that are the project's own plane-host protocol, not public contract. */
const INTERNAL_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([HOST_SYNC, HOST_DESIRED_STATE, TOKEN_REVIEW]);

/** CONTRACT.md section 2: every exchange, its type, and which kinds travel on it with which routing key. */
const EXCHANGE_TYPES: Record<string, string> = {
  [Exchanges.api]: 'direct',
  [Exchanges.events]: 'topic',
  [Exchanges.control]: 'topic',
  [Exchanges.deadLetter]: 'fanout',
};
const HOST = '{hostId}';
const ROUTES: Record<MessageKind, { exchange: string; address: string }> = {
  'host.authorize': { exchange: Exchanges.api, address: 'host.authorize' },
  'host.deauthorize': { exchange: Exchanges.api, address: 'host.deauthorize' },
  'role.assign': { exchange: Exchanges.api, address: 'role.assign' },
  'role.unassign': { exchange: Exchanges.api, address: 'role.unassign' },
  'host.heartbeat': { exchange: Exchanges.events, address: RoutingKeys.hostEvent(HOST, 'heartbeat') },
  'role.status': { exchange: Exchanges.events, address: RoutingKeys.hostEvent(HOST, 'role-status') },
  'host.sync': { exchange: Exchanges.events, address: RoutingKeys.hostEvent(HOST, 'sync') },
  'host.desired-state': { exchange: Exchanges.control, address: RoutingKeys.hostControl(HOST, 'desired-state') },
  'token.review': { exchange: Exchanges.events, address: RoutingKeys.hostEvent(HOST, 'token-review') },
  'nodelet.status': { exchange: Exchanges.events, address: RoutingKeys.hostEvent(HOST, 'nodelet') },
};

/** CONTRACT.md sections 5 and 8, route by route. */
const CONTRACT_ROUTES: readonly string[] = [
  'GET /v1/hosts',
  'GET /v1/hosts/:id',
  'POST /v1/hosts/:id/authorize',
  'POST /v1/hosts/:id/deauthorize',
  'PUT /v1/hosts/:id/roles/:role',
  'DELETE /v1/hosts/:id/roles/:role',
  'POST /v1/roles',
  'GET /v1/roles',
  'GET /v1/roles/:name/:version/package',
  'GET /metrics',
  'GET /healthz',
  'POST /v1/tokens',
  'GET /v1/tokens',
  'DELETE /v1/tokens/:id',
  'GET /v1/audit',
];

/** Statuses and error codes that CONTRACT.md names for a route (sections 3 and 5). */
const CONTRACT_STATUSES: ReadonlyArray<{ route: string; status: string; code?: string }> = [
  { route: 'POST /v1/roles', status: '201' },
  { route: 'POST /v1/roles', status: '400', code: ErrorCodes.validationFailed },
  { route: 'POST /v1/roles', status: '409', code: ErrorCodes.conflict },
  { route: 'PUT /v1/hosts/:id/roles/:role', status: '200' },
  { route: 'PUT /v1/hosts/:id/roles/:role', status: '400', code: ErrorCodes.validationFailed },
  { route: 'PUT /v1/hosts/:id/roles/:role', status: '404', code: ErrorCodes.notFound },
  { route: 'PUT /v1/hosts/:id/roles/:role', status: '409', code: ErrorCodes.hostNotAuthorized },
  { route: 'GET /v1/hosts/:id', status: '404', code: ErrorCodes.notFound },
  { route: 'GET /healthz', status: '200' },
  // Section 8: every route but /healthz and /metrics.
  ...CONTRACT_ROUTES.filter((r) => r.includes(' /v1/')).flatMap((route) => [
    { route, status: '401', code: ErrorCodes.unauthenticated },
    { route, status: '403', code: ErrorCodes.forbidden },
  ]),
  { route: 'POST /v1/tokens', status: '201' },
  { route: 'GET /v1/tokens', status: '200' },
  { route: 'DELETE /v1/tokens/:id', status: '200' },
  { route: 'GET /v1/audit', status: '200' },
];

// The key lists below are checked by the compiler against the contract's types (a
// missing or an extra key fails the build), and by the tests against the documents.
type KeysOf<T> = Record<keyof T, true>;
const HOST_SUMMARY_KEYS: KeysOf<HostSummaryView> = { id: true, hostname: true, state: true, online: true, lastHeartbeatAt: true };
const HOST_DETAIL_KEYS: KeysOf<HostDetailView> = { ...HOST_SUMMARY_KEYS, info: true, roles: true, nodelet: true, brokerIdentity: true };
const HOST_ROLE_KEYS: KeysOf<HostRoleView> = {
  name: true,
  version: true,
  config: true,
  desiredGeneration: true,
  appliedGeneration: true,
  state: true,
  message: true,
  failures: true,
};
const OPERATOR_TOKEN_KEYS: KeysOf<OperatorTokenView> = { id: true, name: true, role: true, createdAt: true, expiresAt: true, revokedAt: true };
const OPERATOR_TOKEN_CREATED_KEYS: KeysOf<OperatorTokenCreatedView> = { id: true, name: true, role: true, token: true, expiresAt: true };
const AUDIT_RECORD_KEYS: KeysOf<AuditRecordView> = { id: true, at: true, actor: true, action: true, target: true, outcome: true, details: true, seq: true, source: true, prevHash: true, hash: true };
const ROLE_UPLOAD_KEYS: KeysOf<RoleUploadView> = { name: true, version: true, sha256: true };
const ROLE_VIEW_KEYS: KeysOf<RoleView> = { name: true, versions: true };
const ROLE_VERSION_KEYS: KeysOf<RoleVersionView> = { version: true, sha256: true, uploadedAt: true };
const RESULT_KEYS: Record<string, Record<string, true>> = {
  'host.authorize': { hostId: true, state: true } satisfies KeysOf<HostAuthorizeResult>,
  'host.deauthorize': { hostId: true, state: true } satisfies KeysOf<HostDeauthorizeResult>,
  'role.assign': { hostId: true, role: true, version: true, generation: true } satisfies KeysOf<RoleAssignResult>,
  'role.unassign': { hostId: true, role: true, generation: true } satisfies KeysOf<RoleUnassignResult>,
};

describe('docs/asyncapi.yaml', () => {
  const messages = channelMessages();

  it('describes every message kind of MESSAGE_CLASSES, with its AMQP type and payload class', () => {
    const described = new Set(messages.map((m) => m.message.name));
    for (const [kind, cls] of Object.entries(MESSAGE_CLASSES)) {
      assert.ok(described.has(kind), `${kind} is not described`);
      const message = messages.find((m) => m.message.name === kind)!.message;
      assert.equal(get(resolveNode(asyncapi, message.bindings), 'amqp', 'messageType'), kind, `${kind}: bindings.amqp.messageType`);
      assert.equal(refName(message.payload), cls.name, `${kind}: payload schema`);
    }
  });

  it('sends each kind on the contract exchange with the contract routing key', () => {
    for (const [kind, route] of Object.entries(ROUTES)) {
      const onExchange = messages.filter((m) => m.message.name === kind && m.exchange !== undefined);
      assert.ok(onExchange.length > 0, `${kind} travels on no exchange`);
      for (const m of onExchange) {
        assert.equal(m.exchange?.name, route.exchange, `${kind}: exchange`);
        assert.equal(m.channel.address, route.address, `${kind}: routing key`);
      }
    }
  });

  it('names exactly the exchanges of Exchanges, with the contract types, durable', () => {
    const exchanges = new Map<string, JsonObject>();
    for (const channel of Object.values(asObject(asyncapi.channels))) {
      const exchange = channelExchange(asObject(channel));
      if (exchange) exchanges.set(String(exchange.name), exchange);
    }
    assert.deepEqual([...exchanges.keys()].sort(), Object.values(Exchanges).sort());
    for (const [name, exchange] of exchanges) {
      assert.equal(exchange.type, EXCHANGE_TYPES[name], `${name}: type`);
      assert.equal(exchange.durable, true, `${name}: durable`);
    }
  });

  it('names the dead-letter queue, the hosts\' queues and the error header as libs/contracts does', () => {
    const queues = Object.values(asObject(asyncapi.channels))
      .map((c) => resolveNode(asyncapi, asObject(c).bindings))
      .map((b) => get(b, 'amqp'))
      .filter((b): b is JsonObject => isObject(b) && b.is === 'queue')
      .map((b) => get(b, 'queue', 'name'));
    assert.ok(queues.includes(Queues.dead), Queues.dead);
    assert.ok(queues.includes(Queues.host(HOST)), Queues.host(HOST));
    const headers = resolveNode(asyncapi, get(asyncapi, 'components', 'messages', 'deadLetter', 'headers'));
    assert.equal(get(headers, 'properties', Headers.error, 'type'), 'string', `the ${Headers.error} header`);
    assert.match(String(get(asyncapi, 'info', 'description')), new RegExp(`\\b${MAX_BODY_BYTES}\\b`), 'the 1 MiB limit in bytes');
  });

  it('marks host.sync, host.desired-state and token.review internal, and only them', () => {
    for (const { message } of messages) {
      const kind = message.name;
      if (typeof kind !== 'string' || !(kind in MESSAGE_CLASSES)) continue;
      const internal = INTERNAL_KINDS.has(kind as MessageKind);
      assert.equal(message['x-internal'] === true, internal, `${kind}: x-internal`);
      assert.deepEqual(tagNames(message), [internal ? 'internal' : 'contract-v1'], `${kind}: tags`);
    }
    // An operation, or a routing key on an exchange, is internal when all it carries is.
    const allInternal = (refs: Json[]): boolean =>
      refs.every((ref) => INTERNAL_KINDS.has(asObject(resolveNode(asyncapi, ref)).name as MessageKind));
    for (const [name, operation] of Object.entries(asObject(asyncapi.operations)).map(([n, o]) => [n, asObject(o)] as const)) {
      const internal = allInternal(asArray(operation.messages));
      assert.equal(operation['x-internal'] === true, internal, `operation ${name}: x-internal`);
      assert.deepEqual(tagNames(operation), [internal ? 'internal' : 'contract-v1'], `operation ${name}: tags`);
    }
    for (const [name, channel] of Object.entries(asObject(asyncapi.channels)).map(([n, c]) => [n, asObject(c)] as const)) {
      if (channelExchange(channel) === undefined) continue;
      const internal = allInternal(Object.values(asObject(channel.messages)));
      assert.equal(channel['x-internal'] === true, internal, `channel ${name}: x-internal`);
      assert.deepEqual(tagNames(channel), [internal ? 'internal' : 'contract-v1'], `channel ${name}: tags`);
    }
  });

  describe('payload schemas match the validated classes of libs/contracts', () => {
    for (const [kind, cls] of Object.entries(MESSAGE_CLASSES)) {
      it(kind, () => {
        const schemaName = cls.name;
        const strict = COMMAND_KINDS.has(kind as MessageKind);
        compareClass(asyncapi, schemaName, cls, strict ? 'strict' : 'lenient', new Set());
      });
    }
  });

  it('answers every command with {ok: true, result} or {ok: false, error}', () => {
    const operations = Object.values(asObject(asyncapi.operations)).map(asObject);
    for (const kind of COMMAND_KINDS) {
      const operation = operations.find((op) =>
        asArray(op.messages).some((ref) => asObject(resolveNode(asyncapi, ref)).name === kind),
      );
      assert.ok(operation, `${kind}: no operation`);
      assert.equal(operation.action, 'receive');
      const replyRefs = asArray(get(operation, 'reply', 'messages'));
      assert.equal(replyRefs.length, 1, `${kind}: one reply message`);
      const reply = resolveSchema(asyncapi, asObject(resolveNode(asyncapi, replyRefs[0])).payload);
      const [success, failure] = asArray(reply.oneOf).map((s) => resolveSchema(asyncapi, s));
      assert.equal(get(success, 'properties', 'ok', 'const'), true);
      const result = resolveSchema(asyncapi, get(success, 'properties', 'result'));
      assert.deepEqual(Object.keys(asObject(result.properties)).sort(), Object.keys(RESULT_KEYS[kind]!).sort(), `${kind}: result`);
      assert.equal(get(failure, 'properties', 'ok', 'const'), false);
      assert.deepEqual(get(failure, 'properties', 'error', 'required'), ['code', 'message', 'details']);
    }
  });

  it('answers token.review with {ok: true, result: {authenticated, user?, expiresAt?}} or {ok: false, error}', () => {
    const operation = Object.values(asObject(asyncapi.operations))
      .map(asObject)
      .find((op) => asArray(op.messages).some((ref) => asObject(resolveNode(asyncapi, ref)).name === TOKEN_REVIEW));
    assert.ok(operation, 'an operation receives token.review');
    const reply = resolveSchema(asyncapi, asObject(resolveNode(asyncapi, asArray(get(operation, 'reply', 'messages'))[0])).payload);
    const [success, failure] = asArray(reply.oneOf).map((s) => resolveSchema(asyncapi, s));
    assert.equal(get(failure, 'properties', 'ok', 'const'), false);
    const [yes, no] = asArray(resolveSchema(asyncapi, get(success, 'properties', 'result')).oneOf).map((s) => resolveSchema(asyncapi, s));
    assert.equal(get(yes, 'properties', 'authenticated', 'const'), true);
    assert.deepEqual(Object.keys(asObject(yes.properties)).sort(), ['authenticated', 'expiresAt', 'user']);
    const userKeys: KeysOf<TokenReviewUser> = { username: true, uid: true, groups: true };
    assert.deepEqual(Object.keys(asObject(get(yes, 'properties', 'user', 'properties'))).sort(), Object.keys(userKeys).sort());
    assert.deepEqual(get(no, 'properties'), { authenticated: { const: false } });
  });

  it('lists the contract error codes, role and host states and field patterns', () => {
    checkSharedSchemas(asyncapi);
  });

  it('resolves every $ref', () => {
    assert.deepEqual(unresolvedRefs(asyncapi), []);
  });
});

describe('docs/openapi.yaml', () => {
  const operations = openapiOperations();

  it('describes every route of CONTRACT.md section 5 with its method, and no other', () => {
    assert.deepEqual([...operations.keys()].sort(), [...CONTRACT_ROUTES].sort());
  });

  it('answers the statuses and error codes the contract names', () => {
    for (const { route, status, code } of CONTRACT_STATUSES) {
      const response = asObject(resolveNode(openapi, get(operations.get(route), 'responses', status)));
      assert.ok(Object.keys(response).length > 0, `${route}: no ${status}`);
      if (code !== undefined) assert.equal(errorCodeOf(response), code, `${route} ${status}`);
    }
    assert.ok(get(operations.get('POST /v1/roles'), 'requestBody', 'content', 'application/gzip') !== undefined, 'POST /v1/roles takes application/gzip');
  });

  it('gives every error response of /v1 the error schema with a contract code', () => {
    const codes = new Set<string>(Object.values(ErrorCodes));
    for (const [route, operation] of operations) {
      if (!route.includes(' /v1/')) continue; // /healthz answers 503 with its own body
      for (const [status, ref] of Object.entries(asObject(operation.responses))) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const response = asObject(resolveNode(openapi, ref));
        if (response.content === undefined) continue;
        const code = errorCodeOf(response);
        assert.ok(code !== undefined && codes.has(code), `${route} ${status}: code ${String(code)}`);
      }
    }
  });

  it('shapes its bodies as the views of libs/contracts', () => {
    const keysOf = (name: string): string[] => Object.keys(flatProperties(openapi, schemaByName(openapi, name))).sort();
    assert.deepEqual(keysOf('HostSummary'), Object.keys(HOST_SUMMARY_KEYS).sort());
    assert.deepEqual(keysOf('HostDetail'), Object.keys(HOST_DETAIL_KEYS).sort());
    assert.deepEqual(keysOf('HostRole'), Object.keys(HOST_ROLE_KEYS).sort());
    assert.deepEqual(keysOf('RoleUpload'), Object.keys(ROLE_UPLOAD_KEYS).sort());
    assert.deepEqual(keysOf('Role'), Object.keys(ROLE_VIEW_KEYS).sort());
    assert.deepEqual(keysOf('RoleVersion'), Object.keys(ROLE_VERSION_KEYS).sort());
    assert.deepEqual(keysOf('HostAuthorizeResult'), Object.keys(RESULT_KEYS['host.authorize']!).sort());
    assert.deepEqual(keysOf('HostDeauthorizeResult'), Object.keys(RESULT_KEYS['host.deauthorize']!).sort());
    assert.deepEqual(keysOf('RoleAssignResult'), Object.keys(RESULT_KEYS['role.assign']!).sort());
    assert.deepEqual(keysOf('RoleUnassignResult'), Object.keys(RESULT_KEYS['role.unassign']!).sort());
    assert.deepEqual(keysOf('OperatorToken'), Object.keys(OPERATOR_TOKEN_KEYS).sort());
    assert.deepEqual(keysOf('OperatorTokenCreated'), Object.keys(OPERATOR_TOKEN_CREATED_KEYS).sort());
    assert.deepEqual(keysOf('AuditRecord'), Object.keys(AUDIT_RECORD_KEYS).sort());
    const roleState = asObject(get(schemaByName(openapi, 'HostRole'), 'properties', 'state'));
    const states = asArray(roleState.oneOf).flatMap((s) => {
      const schema = resolveSchema(openapi, s);
      return schema.const !== undefined ? [schema.const] : asArray(schema.enum);
    });
    assert.deepEqual(states.sort(), [...ROLE_STATES, 'pending'].sort(), 'a host role\'s state, "pending" before the first report');
  });

  it('takes the PUT body that RoleAssignBody validates', () => {
    compareClass(openapi, 'RoleAssignBody', RoleAssignBody, 'strict', new Set());
  });

  it('takes the token request that OperatorTokenCreateRequest validates', () => {
    compareClass(openapi, 'OperatorTokenCreateRequest', OperatorTokenCreateRequest, 'strict', new Set());
  });

  it('needs a bearer token on every route but /healthz and /metrics (section 8)', () => {
    assert.deepEqual(openapi.security, [{ bearer: [] }]);
    assert.equal(get(openapi, 'components', 'securitySchemes', 'bearer', 'scheme'), 'bearer');
    for (const [route, operation] of operations) {
      const open = route === 'GET /healthz' || route === 'GET /metrics';
      assert.deepEqual(operation.security, open ? [] : undefined, route);
    }
  });

  it('lists the contract error codes, role and host states and field patterns', () => {
    checkSharedSchemas(openapi);
  });

  it('resolves every $ref', () => {
    assert.deepEqual(unresolvedRefs(openapi), []);
  });
});

describe('docker-compose.yml', () => {
  const services = asObject(compose.services);

  it('has the services of the development stack', () => {
    assert.deepEqual(Object.keys(services).sort(), ['hostagent', 'postgres', 'rabbitmq', 'rolestore']);
  });

  it('binds every published port to 127.0.0.1 only', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.notEqual(get(service, 'network_mode'), 'host', `${name}: network_mode host`);
      for (const port of asArray(get(service, 'ports') ?? [])) {
        if (typeof port === 'string') {
          assert.match(port, /^127\.0\.0\.1:\d+(-\d+)?:\d+(-\d+)?(\/(tcp|udp))?$/, `${name}: port ${port}`);
        } else {
          assert.equal(get(port, 'host_ip'), '127.0.0.1', `${name}: port ${JSON.stringify(port)}`);
        }
      }
    }
  });

  it('drops every capability and forbids new privileges in every service', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.deepEqual(get(service, 'cap_drop'), ['ALL'], `${name}: cap_drop`);
      const securityOpt = asArray(get(service, 'security_opt') ?? []);
      assert.ok(
        securityOpt.some((o) => o === 'no-new-privileges:true' || o === 'no-new-privileges=true' || o === 'no-new-privileges'),
        `${name}: security_opt no-new-privileges`,
      );
      assert.notEqual(get(service, 'privileged'), true, `${name}: privileged`);
    }
  });

  it('starts a service only once what it depends on is healthy', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(asObject(get(service, 'depends_on') ?? {}))) {
        assert.equal(get(condition, 'condition'), 'service_healthy', `${name} -> ${dependency}`);
        assert.ok(get(services, dependency, 'healthcheck') !== undefined, `${dependency} has a healthcheck`);
      }
    }
  });

  it('wires the role store and the host agent as the services expect', () => {
    const rolestore = asObject(get(services, 'rolestore', 'environment'));
    const hostagent = asObject(get(services, 'hostagent', 'environment'));
    assert.match(String(rolestore.AMQP_URL), /^amqp:\/\/[^@]+@rabbitmq:5672$/);
    assert.match(String(rolestore.DATABASE_URL), /^postgres:\/\/[^@]+@postgres:5432\/\w+$/);
    assert.match(String(hostagent.AMQP_URL), /^amqp:\/\/[^@]+@rabbitmq:5672$/);
    // Packages from the host package listener (the image binds it on every address), never the operators' REST API.
    assert.equal(hostagent.PF9_API_URL, `http://rolestore:${String(rolestore.PF9_HOST_API_PORT ?? '8078')}`);
    // The agent reaches the role store by its service name: the REST API must answer to it (and to the developer's 127.0.0.1).
    assert.deepEqual(String(rolestore.PF9_API_HOSTNAMES).split(',').sort(), ['127.0.0.1', 'localhost', 'rolestore']);
    // The role store listens on 127.0.0.1 by default: in a container that would be unreachable.
    assert.equal(rolestore.PF9_API_HOST, '0.0.0.0');
    assert.equal(rolestore.PF9_HEARTBEAT_INTERVAL_S, hostagent.PF9_HEARTBEAT_INTERVAL_S, 'the offline threshold follows the agents\' interval');
    assert.deepEqual(get(services, 'hostagent', 'command'), ['dist/services/hostagent/main.js']);
  });
});

describe('docker-compose.yml healthchecks', () => {
  const services = asObject(compose.services);
  /** The variable each service's health port comes from. */
  const PORT_VARIABLES: Record<string, string> = { rolestore: 'PF9_API_PORT', hostagent: 'PF9_AGENT_METRICS_PORT' };

  for (const [name, variable] of Object.entries(PORT_VARIABLES)) {
    it(`${name}: the healthcheck asks the port ${variable} says, so that changing it does not make the service unhealthy`, async (t) => {
      const test = asArray(get(services, name, 'healthcheck', 'test')).map(String);
      assert.deepEqual(test.slice(0, 3), ['CMD', 'node', '-e'], `${name}: a node one-liner (the image has no curl)`);
      assert.ok(!test[3]!.includes('$'), 'nothing for compose to interpolate');
      let answering = true;
      const server = createServer((req, res) => res.writeHead(req.url === '/healthz' && answering ? 200 : 503).end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => server.close());
      const port = String((server.address() as AddressInfo).port);
      const environment = Object.fromEntries(Object.entries(asObject(get(services, name, 'environment'))).map(([k, v]) => [k, String(v)]));
      const check = (): Promise<number> =>
        promisify(execFile)(process.execPath, ['-e', test[3]!], { env: { ...environment, [variable]: port }, timeout: 10_000 }).then(
          () => 0,
          (err: { code?: number }) => err.code ?? 1,
        );
      assert.equal(await check(), 0, `healthy when ${variable}=${port} answers`);
      answering = false;
      assert.equal(await check(), 1, `unhealthy when ${variable}=${port} does not answer`);
    });
  }
});

describe('docker/Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('needs no registry but the base image\'s: no syntax directive (BuildKit would fetch a frontend image for it)', () => {
    assert.doesNotMatch(dockerfile, /^#\s*syntax\s*=/im);
  });

  it('carries no compiled tests, specs or benchmarks: the image is compiled from tsconfig.build.json, which leaves them out', async () => {
    const build = dockerfile.slice(0, dockerfile.indexOf('\nFROM ', dockerfile.indexOf('AS build')));
    assert.match(build, /tsc -p tsconfig\.build\.json/);
    assert.doesNotMatch(build, /npm run build|tsc -p tsconfig\.json/, 'nothing else is compiled into dist/');
    assert.match(runtime, /^COPY --from=build \/app\/dist \.\/dist$/m);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const { stdout } = await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const own = stdout.split('\n').filter((f) => f.startsWith(`${ROOT}/`) && !f.includes('/node_modules/')).map((f) => f.slice(ROOT.length + 1));
    const leaked = own.filter((f) => /^(test|bench)\//.test(f) || /\.(spec|testing|fixtures)\.ts$/.test(f));
    assert.deepEqual(leaked, []);
    for (const main of ['services/rolestore/main.ts', 'services/hostagent/main.ts', 'services/comms/main.ts', 'services/ingress/main.ts', 'services/allinone/main.ts', 'cli/main.ts', 'examples/build-examples.ts']) {
      assert.ok(own.includes(main), `${main} is in the image`);
    }
  });

  it('builds on Node.js 24 and runs the role store as node, by default, as a non-root user', () => {
    assert.match(dockerfile, /node:24-bookworm-slim/);
    const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(users.length > 0 && !['root', '0'].includes(users[users.length - 1]!), 'the runtime stage ends as a non-root user');
    assert.match(runtime, /^ENTRYPOINT \["node"\]$/m);
    assert.match(runtime, /^CMD \["dist\/services\/rolestore\/main\.js"\]$/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
  });

  it("binds the role store's listeners for an ingress in another container", () => {
    for (const name of ['PF9_API_HOST', 'PF9_JOIN_HOST', 'PF9_HOST_API_HOST']) assert.match(runtime, new RegExp(`\\b${name}=0\\.0\\.0\\.0\\b`), name);
    assert.match(runtime, /^EXPOSE 8080 8079 8078$/m);
  });
});

// --- the comparison of a document's schema with a class-validator class ----------------

interface ValidationMeta {
  type: string;
  name?: string;
  propertyName: string;
  constraints?: unknown[];
  each?: boolean;
}
type Strictness = 'strict' | 'lenient';

function compareClass(doc: JsonObject, schemaName: string, cls: new () => object, strictness: Strictness, seen: Set<string>): void {
  if (seen.has(schemaName)) return;
  seen.add(schemaName);
  const schema = schemaByName(doc, schemaName);
  const where = (property: string): string => `${schemaName}.${property}`;
  assert.equal(schema.type, 'object', `${schemaName}: type`);
  if (strictness === 'strict') assert.equal(schema.additionalProperties, false, `${schemaName}: unknown properties are refused`);
  else assert.notEqual(schema.additionalProperties, false, `${schemaName}: unknown properties are ignored`);

  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false) as unknown as ValidationMeta[];
  const properties = asObject(schema.properties);
  const byProperty = new Map<string, ValidationMeta[]>();
  for (const meta of metas) byProperty.set(meta.propertyName, [...(byProperty.get(meta.propertyName) ?? []), meta]);
  assert.deepEqual(Object.keys(properties).sort(), [...byProperty.keys()].sort(), `${schemaName}: properties`);

  const required = new Set(asArray(schema.required ?? []).map(String));
  for (const [property, propertyMetas] of byProperty) {
    const optional = propertyMetas.some((m) => m.type === 'conditionalValidation' && m.name === 'isOptional');
    assert.equal(required.has(property), !optional, `${where(property)}: required`);
    const raw = properties[property];
    const prop = resolveSchema(doc, raw);
    for (const meta of propertyMetas) {
      const target = meta.each === true ? resolveSchema(doc, prop.items) : prop;
      const constraint = meta.constraints?.[0];
      if (meta.type === 'conditionalValidation') continue;
      // Required is compared above, from the absence of @IsOptional.
      if (meta.type === 'isDefined') continue;
      if (meta.type === 'nestedValidation') {
        const nested = nestedTypeOf(cls, property)?.type as (new () => object) | undefined;
        assert.ok(nested, `${where(property)}: @Nested() names the nested class`);
        const refHolder = meta.each === true ? prop.items : raw;
        assert.equal(refName(refHolder), nested.name, `${where(property)}: nested schema`);
        compareClass(doc, nested.name, nested, strictness, seen);
        continue;
      }
      assert.equal(meta.type, 'customValidation', `${where(property)}: validation of type ${meta.type}`);
      switch (meta.name) {
        case 'matches':
          assert.equal(target.pattern, (constraint as RegExp).source, `${where(property)}: pattern`);
          break;
        case 'isIn':
          assert.deepEqual(target.enum ?? [target.const], [...(constraint as unknown[])], `${where(property)}: enum`);
          break;
        case 'maxLength':
          assert.equal(target.maxLength, constraint, `${where(property)}: maxLength`);
          break;
        case 'min':
          assert.equal(target.minimum, constraint, `${where(property)}: minimum`);
          break;
        case 'max':
          assert.equal(target.maximum, constraint, `${where(property)}: maximum`);
          break;
        case 'isBoolean':
          assert.equal(target.type, 'boolean', `${where(property)}: type`);
          break;
        case 'arrayMaxSize':
          assert.equal(prop.maxItems, constraint, `${where(property)}: maxItems`);
          break;
        case 'isArray':
          assert.equal(prop.type, 'array', `${where(property)}: type`);
          break;
        case 'isInt':
          assert.equal(target.type, 'integer', `${where(property)}: type`);
          break;
        case 'isNumber':
          assert.equal(target.type, 'number', `${where(property)}: type`);
          break;
        case 'isString':
          assert.equal(target.type, 'string', `${where(property)}: type`);
          break;
        case 'isObject':
        case 'isJsonObject':
          assert.equal(target.type, 'object', `${where(property)}: type`);
          break;
        case 'isIso8601':
          assert.equal(target.type, 'string', `${where(property)}: type`);
          assert.equal(target.format, 'date-time', `${where(property)}: format`);
          break;
        case 'isUuid':
          assert.equal(target.type, 'string', `${where(property)}: type`);
          assert.equal(target.format, 'uuid', `${where(property)}: format`);
          break;
        default:
          assert.fail(`${where(property)}: @${String(meta.name)} has no counterpart in this test; teach it, then document it`);
      }
    }
  }
}

function checkSharedSchemas(doc: JsonObject): void {
  assert.deepEqual(schemaByName(doc, 'ErrorCode').enum, Object.values(ErrorCodes));
  assert.deepEqual(schemaByName(doc, 'RoleState').enum, [...ROLE_STATES]);
  assert.deepEqual(schemaByName(doc, 'HostState').enum, [...HOST_STATES]);
  assert.equal(schemaByName(doc, 'HostId').pattern, HOST_ID_PATTERN.source);
  assert.equal(schemaByName(doc, 'RoleName').pattern, ROLE_NAME_PATTERN.source);
  assert.equal(schemaByName(doc, 'SemVer').pattern, SEMVER_PATTERN.source);
}

// --- reading the documents ----------------------------------------------------------------

interface ChannelMessage {
  channel: JsonObject;
  message: JsonObject;
  exchange: JsonObject | undefined;
}

function channelMessages(): ChannelMessage[] {
  const out: ChannelMessage[] = [];
  for (const channel of Object.values(asObject(asyncapi.channels)).map(asObject)) {
    for (const ref of Object.values(asObject(channel.messages ?? {}))) {
      out.push({ channel, message: asObject(resolveNode(asyncapi, ref)), exchange: channelExchange(channel) });
    }
  }
  return out;
}

function channelExchange(channel: JsonObject): JsonObject | undefined {
  const amqp = get(resolveNode(asyncapi, channel.bindings), 'amqp');
  if (!isObject(amqp) || amqp.is === 'queue' || !isObject(amqp.exchange)) return undefined;
  return amqp.exchange;
}

function openapiOperations(): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const [path, item] of Object.entries(asObject(openapi.paths))) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
      const operation = asObject(item)[method];
      if (operation !== undefined) out.set(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`, asObject(operation));
    }
  }
  return out;
}

function errorCodeOf(response: JsonObject): string | undefined {
  const schema = resolveSchema(openapi, get(response, 'content', 'application/json', 'schema'));
  for (const part of [schema, ...asArray(schema.allOf ?? []).map((s) => resolveSchema(openapi, s))]) {
    const code = get(part, 'properties', 'error', 'properties', 'code', 'const');
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function tagNames(node: JsonObject): string[] {
  return asArray(node.tags ?? []).map((t) => String(get(t, 'name')));
}

function schemaByName(doc: JsonObject, name: string): JsonObject {
  const schema = get(doc, 'components', 'schemas', name);
  assert.ok(isObject(schema), `components.schemas.${name} is missing`);
  return schema;
}

/** A schema with its $ref followed (and the $ref's siblings laid over it). */
function resolveSchema(doc: JsonObject, node: Json | undefined): JsonObject {
  return asObject(resolveNode(doc, node));
}

function resolveNode(doc: JsonObject, node: Json | undefined): Json | undefined {
  if (!isObject(node) || typeof node.$ref !== 'string') return node;
  const { $ref, ...siblings } = node;
  const target = resolveNode(doc, pointer(doc, $ref));
  return isObject(target) ? { ...target, ...siblings } : target;
}

function pointer(doc: JsonObject, ref: string): Json | undefined {
  assert.ok(ref.startsWith('#/'), `only local references: ${ref}`);
  let node: Json | undefined = doc;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : undefined;
  }
  return node;
}

function refName(node: Json | undefined): string | undefined {
  const ref = get(node, '$ref');
  return typeof ref === 'string' ? ref.slice(ref.lastIndexOf('/') + 1) : undefined;
}

function flatProperties(doc: JsonObject, schema: JsonObject): JsonObject {
  let properties: JsonObject = { ...asObject(schema.properties ?? {}) };
  for (const part of asArray(schema.allOf ?? [])) properties = { ...properties, ...flatProperties(doc, resolveSchema(doc, part)) };
  return properties;
}

function unresolvedRefs(doc: JsonObject): string[] {
  const missing: string[] = [];
  const walk = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      if (typeof node.$ref === 'string' && pointer(doc, node.$ref) === undefined) missing.push(node.$ref);
      Object.values(node).forEach(walk);
    }
  };
  walk(doc);
  return missing;
}

// --- small helpers ---------------------------------------------------------------------------

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'docs'))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'no repository root above the test');
    dir = parent;
  }
  return dir;
}

function loadYaml(relativePath: string): JsonObject {
  return asObject(parse(readFileSync(join(ROOT, relativePath), 'utf8'), { merge: true }) as Json);
}

function get(node: Json | undefined, ...path: string[]): Json | undefined {
  let current = node;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return current;
}

function isObject(node: Json | undefined): node is JsonObject {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

function asObject(node: Json | undefined): JsonObject {
  assert.ok(isObject(node), `expected an object, got ${JSON.stringify(node)}`);
  return node;
}

function asArray(node: Json | undefined): Json[] {
  assert.ok(Array.isArray(node), `expected an array, got ${JSON.stringify(node)}`);
  return node;
}
