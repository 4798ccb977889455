import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostHeartbeatEvent } from '#contracts';
import { Logger } from '#logging';
import type { HeartbeatRecord, HostsRepository } from '../hosts/hosts.repository';
import { Clock } from '../core/clock';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { HeartbeatIngester } from './heartbeat.ingester';

function beat(hostId: string, hostname = 'ok'): HostHeartbeatEvent {
  return { hostId, hostname } as HostHeartbeatEvent;
}

function ingester(upsert: (records: HeartbeatRecord[]) => Promise<void>): HeartbeatIngester {
  const hosts = { upsertHeartbeats: upsert } as unknown as HostsRepository;
  return new HeartbeatIngester(hosts, new RolestoreMetrics(), new Logger('test', 'error'), new Clock(), { maxBatch: 100, maxDelayMs: 5 });
}

test('one record the database refuses fails only its own messages, not the whole batch', async () => {
  const written: string[] = [];
  const ingest = ingester(async (records) => {
    if (records.some((r) => r.hostname === 'bad')) throw new Error('invalid byte sequence');
    written.push(...records.map((r) => r.hostId));
  });
  const outcomes = await Promise.allSettled([ingest.ingest(beat('a')), ingest.ingest(beat('b', 'bad')), ingest.ingest(beat('c')), ingest.ingest(beat('a'))]);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  assert.deepEqual(written.sort(), ['a', 'c']);
});

test('with the database away, a batch gives up after two single writes fail, and every message fails', async () => {
  let calls = 0;
  const ingest = ingester(async () => {
    calls++;
    throw new Error('connection refused');
  });
  const outcomes = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((id) => ingest.ingest(beat(id))));
  assert.ok(outcomes.every((o) => o.status === 'rejected'));
  assert.equal(calls, 3);
});
