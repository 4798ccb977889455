import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { PublishOptions } from '#amqp';
import { Logger } from '#logging';
import { AgentMetrics } from './hostagent.metrics';
import { Outbox, type OutboxEntry } from './outbox';
import { StatusReporter, type ReportOutbox, type ReportPublisher } from './status.reporter';

/** The real outbox, on a disk the test can fill: while `full`, every write fails as a full disk does. */
class FillableDisk implements ReportOutbox {
  full = false;
  constructor(private readonly outbox: Outbox) {}

  append(entry: OutboxEntry): Promise<void> {
    if (this.full) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 }));
    return this.outbox.append(entry);
  }

  drain(send: (entry: OutboxEntry) => Promise<void>): Promise<number> {
    return this.outbox.drain(send);
  }

  size(): number {
    return this.outbox.size();
  }
}

class FakeBroker implements ReportPublisher {
  connected = false;
  readonly published: Array<{ role: string; state: string; mandatory: boolean | undefined }> = [];

  isConnected(): boolean {
    return this.connected;
  }

  async publish(_exchange: string, _routingKey: string, _kind: string, body: unknown, options: PublishOptions = {}): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    const { role, state } = body as { role: string; state: string };
    this.published.push({ role, state, mandatory: options.mandatory });
  }
}

describe('StatusReporter when the disk is full', () => {
  let dir: string;
  let disk: FillableDisk;
  let broker: FakeBroker;
  let metrics: AgentMetrics;
  let lines: Array<Record<string, unknown>>;
  let reporter: StatusReporter;

  const report = (role: string, state: 'configuring' | 'applied' | 'failed') => reporter.report({ role, version: '1.0.0', generation: 1, state });
  const metric = async (name: string): Promise<string> => (await metrics.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#')).join('\n');

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostplane-reporter-'));
    lines = [];
    const logger = new Logger('hostagent-test', 'debug', { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const outbox = new Outbox(path.join(dir, 'outbox'), { logger });
    await outbox.open();
    disk = new FillableDisk(outbox);
    broker = new FakeBroker();
    metrics = new AgentMetrics();
    reporter = new StatusReporter('h1', disk, broker, logger, metrics, { retryMs: 60_000 });
  });

  afterEach(async () => {
    reporter.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps a report it cannot write, says so, and writes it once the disk has room again, in order', async () => {
    disk.full = true;
    await report('web', 'configuring');
    await report('web', 'applied');
    assert.equal(reporter.kept, 2, 'both kept in memory');
    assert.equal(disk.size(), 0);
    assert.match(await metric('hostplane_outbox_write_failures_total'), /code="ENOSPC"\} [1-9]/);
    assert.match(await metric('hostplane_outbox_memory_entries'), / 2$/);
    assert.ok(lines.some((l) => l.level === 'warn' && /cannot be written to the outbox/.test(String(l.msg)) && l.code === 'ENOSPC'), 'a warning names the failure');

    disk.full = false;
    await reporter.flush();
    assert.equal(reporter.kept, 0);
    assert.equal(disk.size(), 2, 'written to the outbox while the broker is away');
    broker.connected = true;
    await reporter.flush();
    assert.deepEqual(broker.published.map((p) => p.state), ['configuring', 'applied']);
    assert.equal(disk.size(), 0);
  });

  it('sends what it keeps in memory straight to the broker once the outbox is empty, behind what the disk holds', async () => {
    await report('web', 'configuring'); // on disk, the broker away
    disk.full = true;
    await report('web', 'applied');
    await report('db', 'failed');
    assert.equal(disk.size(), 1);
    assert.equal(reporter.kept, 2);
    broker.connected = true;
    await reporter.flush();
    assert.deepEqual(broker.published.map((p) => `${p.role} ${p.state}`), ['web configuring', 'web applied', 'db failed'], 'in the order they were reported');
    assert.ok(broker.published.every((p) => p.mandatory === true), 'a report no queue takes is not confirmed and dropped');
    assert.equal(reporter.kept, 0);
  });

  it('drops the oldest only past its bound, and says so', async () => {
    reporter = new StatusReporter('h1', disk, broker, new Logger('hostagent-test', 'debug', { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }), metrics, { maxUnwritten: 2, retryMs: 60_000 });
    disk.full = true;
    await report('a', 'applied');
    await report('b', 'applied');
    await report('c', 'applied');
    assert.equal(reporter.kept, 2);
    assert.match(await metric('hostplane_status_reports_dropped_total'), / 1$/);
    assert.ok(lines.some((l) => l.level === 'error' && /oldest is dropped/.test(String(l.msg))));
    broker.connected = true;
    await reporter.flush();
    assert.deepEqual(broker.published.map((p) => p.role), ['b', 'c']);
  });

  it('tries again by itself', async () => {
    reporter = new StatusReporter('h1', disk, broker, new Logger('hostagent-test', 'error', { write: () => undefined }), metrics, { retryMs: 20 });
    disk.full = true;
    await report('web', 'applied');
    disk.full = false;
    broker.connected = true;
    const deadline = Date.now() + 5000;
    while (broker.published.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(broker.published.map((p) => p.state), ['applied']);
  });
});
