import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '#logging';
import { DEFAULT_TUNNEL_CIPHERS } from '../../libs/tunnel';
import { PlaneCredentials } from './plane-credentials';

const quiet = new Logger('test', 'error', { write: () => undefined });

describe('plane credentials: the CA bundle', () => {
  test("a default CA file that is there but cannot be read is a problem, never a silent switch to the system's CAs", (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'comms-trust-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'ca.crt');
    const credentials = (): PlaneCredentials =>
      new PlaneCredentials({ ca: { file: caFile, required: false }, hostCert: { certFile: join(dir, 'host.crt'), keyFile: join(dir, 'host.key') }, tlsCiphers: DEFAULT_TUNNEL_CIPHERS }, quiet, () => undefined);

    assert.equal(credentials().context(false).ok, true, "no file: the system's CAs");
    mkdirSync(caFile); // unreadable for root too (EISDIR)
    const result = credentials().context(false);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.problem.cause === 'ca-missing');
    assert.ok(!result.ok && result.problem.message === `the CA bundle ${caFile} cannot be read (EISDIR)`, !result.ok ? result.problem.message : '');
  });
});
