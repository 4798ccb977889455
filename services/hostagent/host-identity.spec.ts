import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HOST_ID_PATTERN } from '#contracts';
import { hostIdFilePath, loadOrCreateHostId, parseHostIdConf } from './host-identity';

describe('loadOrCreateHostId', () => {
  let root: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'hostplane-identity-'));
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('creates a random id in <root>/etc/pf9/host_id.conf, mode 0644, parent directories included', async () => {
    const id = await loadOrCreateHostId(root);
    assert.match(id, HOST_ID_PATTERN);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const file = path.join(root, 'etc', 'pf9', 'host_id.conf');
    assert.equal(hostIdFilePath(root), file);
    assert.equal(await fs.readFile(file, 'utf8'), `[hostagent]\nhost_id = ${id}\n`);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o644);
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['host_id.conf'], 'no temp file left behind');
  });

  it('returns the same id on every later call', async () => {
    const first = await loadOrCreateHostId(root);
    assert.equal(await loadOrCreateHostId(root), first);
    assert.equal(await loadOrCreateHostId(root, () => 'another-id'), first);
  });

  it('gives concurrent first starts one id', async () => {
    let n = 0;
    const ids = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateHostId(root, () => `candidate-${++n}`)));
    assert.equal(new Set(ids).size, 1);
  });

  it('respects an existing file, comments and other sections included', async () => {
    const file = hostIdFilePath(root);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '# written by the installer\n[other]\nhost_id = not-this\n\n[hostagent]\r\nhost_id=host-42\r\n');
    assert.equal(await loadOrCreateHostId(root), 'host-42');
  });

  it('rejects a corrupt file with a clear error and leaves it untouched', async () => {
    const file = hostIdFilePath(root);
    await fs.mkdir(path.dirname(file), { recursive: true });
    for (const content of ['', '[hostagent]\n', '[hostagent]\nhost_id = has.dots\n', '\u0000\u0000garbage']) {
      await fs.writeFile(file, content);
      await assert.rejects(loadOrCreateHostId(root), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /host_id\.conf is corrupt/);
        assert.match(err.message, /refusing to create a new host id/);
        return true;
      });
      assert.equal(await fs.readFile(file, 'utf8'), content);
    }
  });
});

describe('parseHostIdConf', () => {
  it('ignores host_id outside [hostagent]', () => {
    assert.deepEqual(parseHostIdConf('host_id = abc\n'), { ok: false, problem: 'no "host_id" in section [hostagent]' });
  });

  it('accepts spaces around the section name and the separator', () => {
    assert.deepEqual(parseHostIdConf('[ hostagent ]\n  host_id   =   abc  \n'), { ok: true, hostId: 'abc' });
  });
});
