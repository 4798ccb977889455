import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJsonInput } from './json-input';
import { isMessageKind, MESSAGE_CLASSES, validateMessage, type MessageKind } from './registry';
import { RoleManifest } from './role-manifest';
import { MAX_JSON_OBJECT_FIELD_DEPTH, validatePlain } from './validation';

const FUZZ = { seed: 20261207, numRuns: 400 };
const KINDS = Object.keys(MESSAGE_CLASSES).filter(isMessageKind);

function heartbeat(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostId: 'h1',
    hostname: 'node-1',
    agentVersion: '0.1.0',
    sentAt: '2026-12-07T10:00:00.000Z',
    uptimeS: 12.5,
    cpu: { model: 'x', cores: 2, loadavg: [0.1, 0.2, 0.3], usagePct: 3.2 },
    memory: { totalBytes: 1024, availableBytes: 512 },
    storage: [{ mount: '/', fs: 'ext4', totalBytes: 10, usedBytes: 5 }],
    network: [{ name: 'eth0', mac: '00:00:00:00:00:01', addresses: [{ family: 'IPv4', address: '10.0.0.1', cidr: '10.0.0.1/24' }] }],
    os: { platform: 'linux', release: '6.1', distro: 'Debian' },
    roles: [],
    ...overrides,
  };
}

function problems(kind: MessageKind, body: unknown): string {
  const validated = validateMessage(kind, body);
  assert.equal(validated.ok, false, `expected ${kind} to be refused`);
  return validated.ok ? '' : JSON.stringify(validated.details);
}

describe('validation of messages and bodies', () => {
  test("a role's config is kept exactly: constructor, toString, prototype and every other key", () => {
    const text = '{"hostId":"h1","role":"demo","config":{"constructor":1,"toString":"x","prototype":{"constructor":{"valueOf":[1,2]}},"n":1.5,"z":null,"a":[{"hasOwnProperty":true}]}}';
    const parsed = parseJsonInput(text);
    assert.ok(parsed.ok);
    const validated = validateMessage('role.assign', parsed.value);
    assert.ok(validated.ok, JSON.stringify(validated));
    assert.equal(JSON.stringify(validated.value.config), JSON.stringify((JSON.parse(text) as { config: unknown }).config));
    assert.equal(JSON.stringify(validated.value.config), text.slice(text.indexOf('"config":') + 9, -1));
    // The very object that was sent: nothing walked it, nothing copied it.
    assert.equal(validated.value.config, (parsed.value as { config: unknown }).config);
  });

  test('the issue\'s example, config {"constructor":1}, validates instead of throwing', () => {
    const validated = validateMessage('role.assign', { hostId: 'x', role: 'demo', config: { constructor: 1 } });
    assert.ok(validated.ok);
    assert.deepEqual(validated.value.config, { constructor: 1 });
  });

  test('inside a desired state, each role config is kept exactly too', () => {
    const role = { name: 'demo', version: '1.0.0', sha256: 'a'.repeat(64), config: { constructor: { prototype: 1 }, toString: 2 }, generation: 3 };
    const validated = validateMessage('host.desired-state', { hostId: 'h1', state: 'authorized', generation: 3, roles: [role] });
    assert.ok(validated.ok, JSON.stringify(validated));
    assert.equal(validated.value.roles[0]!.config, role.config);
  });

  test('a config accepted by role.assign is one a host takes inside its desired state: configs hold at most 56 levels of objects and arrays', () => {
    const nested = (depth: number): unknown => (depth === 0 ? {} : { a: nested(depth - 1) });
    assert.equal(validateMessage('role.assign', { hostId: 'h1', role: 'demo', config: nested(MAX_JSON_OBJECT_FIELD_DEPTH - 1) }).ok, true);
    assert.match(problems('role.assign', { hostId: 'h1', role: 'demo', config: nested(MAX_JSON_OBJECT_FIELD_DEPTH) }), /nests deeper than 56 levels/);
    const role = { name: 'demo', version: '1.0.0', sha256: 'a'.repeat(64), config: nested(MAX_JSON_OBJECT_FIELD_DEPTH - 1), generation: 1 };
    const asSent = parseJsonInput(JSON.stringify({ hostId: 'h1', state: 'authorized', generation: 1, roles: [role] }));
    assert.ok(asSent.ok, asSent.ok ? '' : asSent.problem);
    assert.equal(validateMessage('host.desired-state', asSent.value).ok, true);
  });

  test('a __proto__ key is refused, in the config or anywhere else', () => {
    const inConfig = JSON.parse('{"hostId":"h1","role":"demo","config":{"__proto__":{"polluted":true}}}') as unknown;
    assert.match(problems('role.assign', inConfig), /__proto__ is not allowed/);
    const topLevel = JSON.parse('{"hostId":"h1","role":"demo","__proto__":{"x":1}}') as unknown;
    assert.match(problems('role.assign', topLevel), /__proto__ is not allowed/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('where a body has structure, keys every object inherits are refused, in commands and events alike', () => {
    assert.match(problems('role.assign', { hostId: 'h1', role: 'demo', constructor: 1 }), /property constructor is not allowed/);
    assert.match(problems('host.heartbeat', heartbeat({ toString: 'x' })), /property toString is not allowed/);
    assert.match(problems('host.heartbeat', heartbeat({ cpu: { model: 'x', cores: 2, loadavg: [], usagePct: 1, constructor: {} } })), /cpu\.constructor/);
  });

  test('a heartbeat without cpu, memory or os is refused, naming each', () => {
    const body = heartbeat();
    delete body.cpu;
    delete body.memory;
    delete body.os;
    const found = problems('host.heartbeat', body);
    for (const field of ['cpu', 'memory', 'os']) assert.match(found, new RegExp(`"${field} is required"`));
    assert.match(problems('host.heartbeat', heartbeat({ cpu: [] })), /cpu must be a JSON object/);
    assert.match(problems('host.heartbeat', heartbeat({ cpu: 'fast' })), /cpu must be a JSON object/);
  });

  test('an oversized nested array is refused before it is walked', () => {
    const storage = Array.from({ length: 200_000 }, () => ({ mount: '/', fs: 'x', totalBytes: 1, usedBytes: 1 }));
    const started = performance.now();
    assert.match(problems('host.heartbeat', heartbeat({ storage })), /storage must contain no more than 1024 elements/);
    assert.ok(performance.now() - started < 1000);
  });

  test('generations and counts stay within 2^53, and strings hold no NUL', () => {
    assert.match(problems('role.status', { hostId: 'h1', role: 'r', version: '1.0.0', generation: 1e20, state: 'applied' }), /generation/);
    assert.match(problems('host.heartbeat', heartbeat({ hostname: 'a\u0000b' })), /hostname must not contain NUL characters/);
  });

  test('an object where an array of nested objects belongs is refused, whatever its keys', () => {
    for (const roles of [{ constructor: null }, { a: { name: 'x' } }, 'text', 7]) {
      assert.match(problems('host.desired-state', { hostId: 'h1', state: 'authorized', generation: 1, roles }), /roles must be an array/, JSON.stringify(roles));
    }
  });

  test('"hooks": [] in a role.json is refused, not taken for a package without hooks', () => {
    const validated = validatePlain(RoleManifest, { name: 'demo', version: '1.0.0', hooks: [] }, { forbidUnknown: false });
    assert.equal(validated.ok, false);
    assert.match(JSON.stringify(validated), /hooks must be a JSON object/);
  });

  test('no input makes validation throw, for any kind (fuzz)', () => {
    const dangerousKey = fc.constantFrom('constructor', '__proto__', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'hostId', 'config', 'cpu', 'roles', 'hooks');
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double(),
        fc.integer(),
        fc.string(),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.oneof(dangerousKey, fc.string()), tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    const body = fc.oneof(json, fc.record({ hostId: fc.constantFrom('h1', 'x'), role: fc.constant('demo'), config: json, cpu: json, roles: json, hooks: json }, { requiredKeys: [] }));
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), body, (kind, value) => {
        // Through JSON, as every input arrives (so __proto__ is an own key, as JSON.parse makes it).
        const parsed = parseJsonInput(JSON.stringify(value) ?? 'null');
        if (parsed.ok) validateMessage(kind, parsed.value);
        validatePlain(RoleManifest, parsed.ok ? parsed.value : value, { forbidUnknown: false });
      }),
      FUZZ,
    );
  });
});
