import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareSemver, newestVersion } from './semver';

test('orders versions by SemVer precedence', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0', '2.0.0'];
  for (let i = 0; i + 1 < ordered.length; i++) {
    assert.equal(compareSemver(ordered[i]!, ordered[i + 1]!), -1, `${ordered[i]} < ${ordered[i + 1]}`);
    assert.equal(compareSemver(ordered[i + 1]!, ordered[i]!), 1);
  }
  assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
});

test('newest is the highest version, not the last uploaded', () => {
  assert.equal(newestVersion(['1.10.0', '2.0.0-rc.1', '1.9.3']), '2.0.0-rc.1');
  assert.equal(newestVersion(['1.0.0', '1.0.1', '0.9.0']), '1.0.1');
  assert.equal(newestVersion([]), undefined);
});
