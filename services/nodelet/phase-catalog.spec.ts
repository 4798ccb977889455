import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phasesFor, PhaseCatalogError, readPhaseCatalog } from './phase-catalog';
import { SHIPPED_PHASES_DIR } from './nodelet.paths';

async function folder(files: Record<string, { text: string; mode?: number }>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-phases-'));
  for (const [name, { text, mode }] of Object.entries(files)) {
    await writeFile(join(dir, name), text);
    await chmod(join(dir, name), mode ?? 0o755);
  }
  return dir;
}

describe('phase catalog (PHASES_DIR)', () => {
  test('NNN-name.sh (and .js / .ts modules) sorted by their order number; other files ignored', async () => {
    const dir = await folder({
      '100-wait.sh': { text: '#!/bin/sh\n' },
      '20-certs.sh': { text: '#!/bin/sh\n' },
      '045-runtime.js': { text: '// a module\n', mode: 0o644 },
      '050-etcd.ts': { text: '// nodelet-roles: master\n', mode: 0o644 },
      'README.md': { text: 'no' },
      'common.sh': { text: '#!/bin/sh\n' },
    });
    const catalog = await readPhaseCatalog(dir);
    assert.deepEqual(
      catalog.map((p) => [p.order, p.name, p.kind]),
      [
        [20, 'certs', 'sh'],
        [45, 'runtime', 'js'],
        [50, 'etcd', 'ts'],
        [100, 'wait', 'sh'],
      ],
    );
    assert.deepEqual(phasesFor(catalog, 'worker').map((p) => p.name), ['certs', 'runtime', 'wait'], 'nodelet-roles: master keeps a phase off workers');
    assert.deepEqual(phasesFor(catalog, 'none'), []);
  });

  test('a duplicate order number, a script that is not executable, or an unknown role is a clear error', async () => {
    const dup = await folder({ '020-a.sh': { text: '' }, '20-b.sh': { text: '' } });
    await assert.rejects(readPhaseCatalog(dup), (err: unknown) => err instanceof PhaseCatalogError && /020-a\.sh and 20-b\.sh have the same order 20/.test(err.message));
    const notExec = await folder({ '010-a.sh': { text: '#!/bin/sh\n', mode: 0o644 } });
    await assert.rejects(readPhaseCatalog(notExec), /010-a\.sh is not executable/);
    const badRole = await folder({ '010-a.sh': { text: '#!/bin/sh\n# nodelet-roles: boss\n' } });
    await assert.rejects(readPhaseCatalog(badRole), /nodelet-roles names 'boss'/);
    await assert.rejects(readPhaseCatalog(join(dup, 'absent')), /does not exist \(PHASES_DIR\)/);
  });

  test("the shipped phases follow Platform9's order: the master list, the worker's without 50, 55, 70, 160, 180, 206, one cleanup phase for none", async () => {
    const catalog = await readPhaseCatalog(SHIPPED_PHASES_DIR);
    const master = [20, 30, 40, 45, 48, 50, 55, 60, 65, 70, 75, 80, 90, 100, 110, 120, 130, 160, 180, 206, 210];
    assert.deepEqual(phasesFor(catalog, 'master').map((p) => p.order), master);
    assert.deepEqual(phasesFor(catalog, 'worker').map((p) => p.order), master.filter((o) => ![50, 55, 70, 160, 180, 206].includes(o)));
    const none = phasesFor(catalog, 'none');
    assert.equal(none.length, 1);
    assert.match(none[0].name, /cleanup/);
    assert.deepEqual(
      phasesFor(catalog, 'master').filter((p) => /cert/.test(p.name)).map((p) => p.order),
      [20],
      'the certificates phase (20) is the one nodelet keeps across restarts',
    );
  });
});
