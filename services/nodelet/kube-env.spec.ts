import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBE_ENV_HEADER, renderKubeEnv, writeKubeEnv } from './kube-env';

test('kube.env: the header, then export KEY="value" lines that sh sources to exactly the values, running nothing', async () => {
  const values = { PLAIN: 'master', TRICKY: 'a "quoted" $HOME `id` \\n $(touch /tmp/pwned) \'single\'', EMPTY: '' };
  const text = renderKubeEnv(values);
  assert.equal(text.split('\n')[0], KUBE_ENV_HEADER);
  assert.match(text, /^export PLAIN="master"$/m);
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-kubeenv-'));
  const file = join(dir, 'kube.env');
  assert.equal(await writeKubeEnv(file, values), true);
  assert.equal(await writeKubeEnv(file, values), false, 'unchanged: not written again');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const printed = execFileSync('/bin/sh', ['-c', `. "${file}"; printf '%s\\n' "$TRICKY"; printf '[%s]' "$EMPTY"`], { encoding: 'utf8' });
  assert.equal(printed, `${values.TRICKY}\n[]`);
  assert.equal(await readFile(file, 'utf8'), text);
});
