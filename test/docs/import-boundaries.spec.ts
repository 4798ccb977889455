import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/processes';

interface Cruised {
  modules: Array<{ source: string; dependencies: Array<{ module: string; resolved: string; couldNotResolve: boolean; coreModule: boolean }> }>;
}

/**
 * The import-boundary check must see every import: the `#contracts`, `#amqp`, … aliases
 * included, resolved to the libs' sources (package.json "imports": "types" for tools, the
 * compiled file for Node), so that a service reaching into another through an alias is caught.
 */
test('the boundary check resolves every import, the #aliases to the libs sources', () => {
  const cruise = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs'), '--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'services', 'libs', 'cli', 'test'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(cruise.status, 0, cruise.stderr);
  const result = JSON.parse(cruise.stdout) as Cruised;
  const aliases = result.modules.flatMap((m) => m.dependencies.filter((d) => d.module.startsWith('#')).map((d) => ({ from: m.source, ...d })));
  assert.ok(aliases.length > 100, `only ${aliases.length} alias imports seen`);
  for (const dep of aliases) {
    assert.equal(dep.couldNotResolve, false, `${dep.from}: ${dep.module} not resolved`);
    assert.match(dep.resolved, /^libs\/[a-z-]+\/index\.ts$/, `${dep.from}: ${dep.module} resolves to ${dep.resolved}, not a lib's source`);
  }
  const unresolved = result.modules.flatMap((m) => m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`));
  assert.deepEqual(unresolved, []);
});
