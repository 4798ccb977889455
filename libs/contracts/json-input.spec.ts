import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkJsonValue, MAX_JSON_DEPTH, parseJsonBytes, parseJsonInput, sameDecimal } from './json-input';

const FUZZ = { seed: 20261207, numRuns: 300 };

function refused(text: string): string {
  const parsed = parseJsonInput(text);
  assert.equal(parsed.ok, false, `expected ${text.slice(0, 80)} to be refused`);
  return parsed.ok ? '' : parsed.problem;
}

describe('untrusted JSON input', () => {
  test('nesting 10,000 levels deep is refused with the path, not a stack overflow', () => {
    const deep = `{"config":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    assert.match(refused(deep), /nests deeper than 64 levels/);
    assert.match(refused('['.repeat(100_000) + ']'.repeat(100_000)), /nests deeper/);
  });

  test('as deep as the limit is fine', () => {
    const depth = MAX_JSON_DEPTH;
    const text = '['.repeat(depth) + ']'.repeat(depth);
    assert.equal(parseJsonInput(text).ok, true);
    assert.equal(parseJsonInput(`[${text}]`).ok, false);
  });

  test('a __proto__ key is refused at any depth, naming where', () => {
    assert.match(refused('{"__proto__":{"isAdmin":true}}'), /^__proto__ is not allowed/);
    assert.match(refused('{"config":{"a":[{"__proto__":1}]}}'), /^config\.a\[0\]\.__proto__ is not allowed/);
  });

  test('constructor, prototype and toString are ordinary keys of the data', () => {
    const text = '{"constructor":{"prototype":{"toString":1}},"valueOf":[],"hasOwnProperty":"x"}';
    const parsed = parseJsonInput(text);
    assert.ok(parsed.ok);
    assert.equal(JSON.stringify(parsed.value), text);
  });

  test('numbers a double cannot hold exactly are refused: past 2^53, too many digits, overflow', () => {
    assert.match(refused('{"n":9007199254740993}'), /9007199254740993 cannot be represented exactly/);
    assert.match(refused('{"n":-9007199254740993}'), /cannot be represented exactly/);
    assert.match(refused('[12345678901234567890123]'), /cannot be represented exactly/);
    assert.match(refused('[0.12345678901234567890]'), /cannot be represented exactly/);
    assert.match(refused('[1e400]'), /not a finite number/);
    assert.match(refused('[9007199254740993.0]'), /cannot be represented exactly/);
  });

  test('numbers that a double holds exactly are kept, whatever their spelling', () => {
    for (const text of ['[9007199254740991]', '[9007199254740992]', '[1e21]', '[1E+21]', '[-0]', '[12.50]', '[0.1]', '[5e-324]', '[1.7976931348623157e308]', '["9007199254740993"]']) {
      assert.equal(parseJsonInput(text).ok, true, text);
    }
  });

  test('every number JSON.stringify writes is read back as accepted (fuzz)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const parsed = parseJsonInput(JSON.stringify({ d }));
        assert.ok(parsed.ok, String(d));
      }),
      FUZZ,
    );
  });

  test('the same decimal, spelled differently', () => {
    assert.equal(sameDecimal('1.50e3', '1500'), true);
    assert.equal(sameDecimal('0.000', '0'), true);
    assert.equal(sameDecimal('9007199254740993', '9007199254740992'), false);
  });

  test('invalid UTF-8 is refused, never turned into U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const parsed = parseJsonBytes(bytes);
    assert.deepEqual(parsed, { ok: false, problem: 'body is not valid UTF-8' });
    assert.deepEqual(parseJsonBytes(Buffer.from('{"name":"é"}')), { ok: true, value: { name: 'é' } });
  });

  test('never throws, whatever the bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        parseJsonBytes(bytes);
      }),
      FUZZ,
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 256 }), (text) => {
        parseJsonInput(text);
      }),
      FUZZ,
    );
  });

  test('checkJsonValue refuses what JSON cannot carry', () => {
    assert.match(checkJsonValue({ a: Number.NaN }) ?? '', /^a is not a finite number/);
    assert.match(checkJsonValue({ f: () => 1 }) ?? '', /^f is not a JSON value/);
    assert.equal(checkJsonValue({ a: [1, 'x', null, true, { b: {} }] }), null);
  });
});
