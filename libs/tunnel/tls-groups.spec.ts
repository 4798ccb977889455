import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecureContext } from 'node:tls';
import { classicalGroups, isPostQuantumGroup } from './tls-groups';

describe('classicalGroups', () => {
  test("OpenSSL's default: its classical groups, X25519 first, a list OpenSSL takes", () => {
    const groups = classicalGroups(undefined);
    assert.ok(groups?.startsWith('X25519:'), groups);
    assert.doesNotMatch(groups ?? '', /MLKEM/i);
    assert.doesNotThrow(() => createSecureContext({ ecdhCurve: groups }));
  });

  test('a configured list less its post-quantum groups, tuples and key share marks taken apart', () => {
    assert.equal(classicalGroups('X25519MLKEM768:X25519:P-256'), 'X25519:P-256');
    assert.equal(classicalGroups('?*X25519MLKEM768 / ?*X25519:?secp256r1 / SecP384r1MLKEM1024:P-384'), '?X25519:?secp256r1:P-384');
    assert.doesNotThrow(() => createSecureContext({ ecdhCurve: classicalGroups('?*X25519MLKEM768 / ?*X25519:?secp256r1') }));
  });

  test('nothing to resume with: no post-quantum group, nothing classical, or syntax it does not take apart', () => {
    assert.equal(classicalGroups('X25519:P-256'), undefined);
    assert.equal(classicalGroups('X25519MLKEM768'), undefined);
    assert.equal(classicalGroups('DEFAULT:-X448'), undefined);
  });

  test('isPostQuantumGroup names the ML-KEM groups', () => {
    assert.equal(isPostQuantumGroup('X25519MLKEM768'), true);
    assert.equal(isPostQuantumGroup('SecP256r1MLKEM768'), true);
    assert.equal(isPostQuantumGroup('X25519'), false);
    assert.equal(isPostQuantumGroup(undefined), false);
  });
});
