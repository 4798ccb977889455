import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { emptyState, RoleStateStore } from './role-state.store';

describe('RoleStateStore', () => {
  test("keeps the roles' configs the agent's alone: state.json 0600 in a 0700 folder, also over what an older agent left 0644 in a 0755 folder", async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'role-state-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const dir = join(root, 'var/lib/pf9/hostagent');
    const file = join(dir, 'state.json');
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    await writeFile(file, JSON.stringify(emptyState()), { mode: 0o644 });
    const store = new RoleStateStore(file);
    const state = { ...emptyState(), desiredGeneration: 3, desired: [{ name: 'db', version: '1.0.0', sha256: 'a'.repeat(64), config: { password: 'secret' }, generation: 3 }] };
    const umask = process.umask(0);
    try {
      await store.save(state);
    } finally {
      process.umask(umask);
    }
    assert.equal((await stat(file)).mode & 0o7777, 0o600);
    assert.equal((await stat(dir)).mode & 0o7777, 0o700);
    assert.deepEqual(await readdir(dir), ['state.json'], 'no temporary file left behind');
    assert.deepEqual((await store.load()).desired, state.desired);
  });
});
