import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Logger } from '#logging';
import { Outbox, type OutboxEntry } from './outbox';

function entry(i: number): OutboxEntry {
  return { kind: 'role.status', routingKey: 'host.h1.role-status', messageId: `m-${i}`, body: { n: i, state: 'applied' } };
}

/** A logger whose lines the test can read. */
function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = new Logger('hostagent-test', 'debug', { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('Outbox', () => {
  let dir: string;

  beforeEach(async () => {
    dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'hostplane-outbox-')), 'outbox');
  });

  afterEach(async () => {
    await fs.rm(path.dirname(dir), { recursive: true, force: true });
  });

  async function opened(options: ConstructorParameters<typeof Outbox>[1] = {}): Promise<Outbox> {
    const outbox = new Outbox(dir, { logger: captureLogger().logger, ...options });
    await outbox.open();
    return outbox;
  }

  async function drainAll(outbox: Outbox): Promise<string[]> {
    const ids: string[] = [];
    await outbox.drain(async (e) => {
      ids.push(e.messageId);
    });
    return ids;
  }

  it('writes one zero-padded file per entry, creating the directory, and nothing else', async () => {
    const outbox = await opened();
    await outbox.append(entry(1));
    await outbox.append(entry(2));
    assert.equal(outbox.size(), 2);
    assert.deepEqual(await fs.readdir(dir), ['0000000000000001.json', '0000000000000002.json']);
    assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, '0000000000000001.json'), 'utf8')), entry(1));
  });

  it('sends in order, deletes only what was sent, and stops at the first failure', async () => {
    const outbox = await opened();
    for (let i = 1; i <= 5; i++) await outbox.append(entry(i));

    const sent: OutboxEntry[] = [];
    let calls = 0;
    const count = await outbox.drain(async (e) => {
      if (++calls === 3) throw new Error('broker away');
      sent.push(e);
    });
    assert.equal(count, 2);
    assert.deepEqual(sent, [entry(1), entry(2)]);
    assert.equal(outbox.size(), 3);
    assert.equal((await fs.readdir(dir)).length, 3);

    assert.deepEqual(await drainAll(outbox), ['m-3', 'm-4', 'm-5']);
    assert.equal(outbox.size(), 0);
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it('survives a restart: old entries in order, sequence continued after the highest', async () => {
    const first = await opened();
    for (let i = 1; i <= 4; i++) await first.append(entry(i));
    await first.drain(async (e) => {
      if (e.messageId === 'm-2') throw new Error('broker away');
    });
    // A crash in the middle of an append leaves a temp file that was never acknowledged.
    await fs.writeFile(path.join(dir, '.0000000000000009.json.tmp'), '{"kind":');

    const second = await opened();
    assert.equal(second.size(), 3);
    await second.append(entry(5));
    assert.deepEqual(await fs.readdir(dir), [
      '0000000000000002.json',
      '0000000000000003.json',
      '0000000000000004.json',
      '0000000000000005.json',
    ]);
    assert.deepEqual(await drainAll(second), ['m-2', 'm-3', 'm-4', 'm-5']);
  });

  it('never sends twice when drains overlap, and a later drain picks up later appends', async () => {
    const outbox = await opened();
    for (let i = 1; i <= 10; i++) await outbox.append(entry(i));
    const sent: string[] = [];
    let inSend = 0;
    let mostAtOnce = 0;
    const send = async (e: OutboxEntry): Promise<void> => {
      mostAtOnce = Math.max(mostAtOnce, ++inSend);
      await new Promise((resolve) => setImmediate(resolve));
      sent.push(e.messageId);
      inSend--;
    };
    const [a, b] = await Promise.all([outbox.drain(send), outbox.drain(send), outbox.append(entry(11))]);
    const c = await outbox.drain(send);
    assert.equal(a + b + c, 11);
    assert.equal(mostAtOnce, 1);
    assert.deepEqual(sent, Array.from({ length: 11 }, (_, i) => `m-${i + 1}`));
    assert.equal(outbox.size(), 0);
  });

  it('keeps appends durable while a drain waits on a slow broker', async () => {
    const outbox = await opened();
    await outbox.append(entry(1));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent: string[] = [];
    const draining = outbox.drain(async (e) => {
      if (e.messageId === 'm-1') await gate;
      sent.push(e.messageId);
    });
    await outbox.append(entry(2)); // does not wait for the drain
    assert.equal(outbox.size(), 2);
    release();
    assert.equal(await draining, 2);
    assert.deepEqual(sent, ['m-1', 'm-2']);
  });

  it('drops the oldest entries past maxEntries and counts them', async () => {
    const { logger, lines } = captureLogger();
    const outbox = await opened({ maxEntries: 3, logger });
    for (let i = 1; i <= 5; i++) await outbox.append(entry(i));
    assert.equal(outbox.size(), 3);
    assert.equal(outbox.dropped, 2);
    assert.equal(lines.filter((l) => l.level === 'warn' && l.msg === 'outbox full: dropped the oldest entry').length, 2);
    assert.deepEqual(await drainAll(outbox), ['m-3', 'm-4', 'm-5']);
  });

  it('applies maxEntries to what it finds on open', async () => {
    const big = await opened();
    for (let i = 1; i <= 5; i++) await big.append(entry(i));
    const small = await opened({ maxEntries: 2 });
    assert.equal(small.size(), 2);
    assert.equal(small.dropped, 3);
    assert.deepEqual(await drainAll(small), ['m-4', 'm-5']);
  });

  it('does not drop the entry a drain is sending', async () => {
    const outbox = await opened({ maxEntries: 2 });
    await outbox.append(entry(1));
    await outbox.append(entry(2));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sendStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (sendStarted = resolve));
    const sent: string[] = [];
    const draining = outbox.drain(async (e) => {
      if (e.messageId === 'm-1') {
        sendStarted();
        await gate;
      }
      sent.push(e.messageId);
    });
    await started;
    await outbox.append(entry(3)); // over the limit: m-2 goes, not m-1 which is on its way
    release();
    await draining;
    assert.deepEqual(sent, ['m-1', 'm-3']);
    assert.equal(outbox.dropped, 1);
  });

  it('sets a corrupt entry aside with a warning and goes on with the rest', async () => {
    const { logger, lines } = captureLogger();
    const outbox = await opened({ logger });
    for (let i = 1; i <= 3; i++) await outbox.append(entry(i));
    const corrupt = path.join(dir, '0000000000000002.json');
    await fs.truncate(corrupt, 10);

    assert.deepEqual(await drainAll(outbox), ['m-1', 'm-3']);
    assert.equal(outbox.size(), 0);
    assert.deepEqual(await fs.readdir(path.join(dir, 'corrupt')), ['0000000000000002.json']);
    const warning = lines.find((l) => l.msg === 'outbox: corrupt entry set aside');
    assert.ok(warning);
    assert.equal(warning.level, 'warn');
    assert.equal(warning.file, path.join(dir, 'corrupt', '0000000000000002.json'));

    // A restart does not retry it, and numbers new entries past it so nothing overwrites it in corrupt/.
    const again = await opened();
    assert.equal(again.size(), 0);
    await again.append(entry(4));
    assert.deepEqual(
      (await fs.readdir(dir)).filter((n) => n.endsWith('.json')),
      ['0000000000000003.json'],
    );
  });

  it('sets aside valid JSON that is not an entry', async () => {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, '0000000000000001.json'), '[1,2]');
    await fs.writeFile(path.join(dir, '0000000000000002.json'), JSON.stringify(entry(2)));
    const outbox = await opened();
    assert.deepEqual(await drainAll(outbox), ['m-2']);
    assert.deepEqual(await fs.readdir(path.join(dir, 'corrupt')), ['0000000000000001.json']);
  });

  it('refuses entries it could not send back as they were', async () => {
    const outbox = await opened();
    await assert.rejects(outbox.append({ ...entry(1), body: undefined }), /needs a body/);
    await assert.rejects(outbox.append({ ...entry(1), messageId: '' }), /messageId/);
    assert.equal(outbox.size(), 0);
  });

  it("keeps the reports the agent's alone: 0600 entries in a 0700 folder, also one an older agent made 0755, and so the folder of entries set aside", async () => {
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    await fs.chmod(dir, 0o755);
    const umask = process.umask(0);
    try {
      const outbox = await opened();
      for (let i = 1; i <= 2; i++) await outbox.append(entry(i));
      await fs.truncate(path.join(dir, '0000000000000001.json'), 5);
      assert.deepEqual(await drainAll(outbox), ['m-2']);
      await outbox.append(entry(3));
    } finally {
      process.umask(umask);
    }
    const modeOf = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o7777;
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(path.join(dir, '0000000000000003.json')), 0o600);
    assert.equal(await modeOf(path.join(dir, 'corrupt')), 0o700);
    assert.deepEqual(await fs.readdir(path.join(dir, 'corrupt')), ['0000000000000001.json']);
  });

  it('must be opened first', () => {
    const outbox = new Outbox(dir);
    assert.throws(() => void outbox.append(entry(1)), /before open\(\)/);
  });
});
