import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '#logging';
import type { DesiredStatePublisher } from '../assignments/desired-state.publisher';
import type { HostAccessService } from '../broker-users/host-access.service';
import type { HostsRepository } from '../hosts/hosts.repository';
import { RolestoreMetrics } from '../metrics/rolestore.metrics';
import { HOST_SYNC_BURST, HOST_SYNC_REFILL_MS, HostEventsService } from './host-events.service';

test("a host's host.sync requests are answered at a bounded rate, its syncId carried back; the excess is dropped and counted", async () => {
  let now = 0;
  const answered: Array<[string, string | undefined]> = [];
  const desired = { publishFor: async (hostId: string, inReplyTo?: string) => void answered.push([hostId, inReplyTo]) } as unknown as DesiredStatePublisher;
  const metrics = new RolestoreMetrics();
  const events = new HostEventsService({} as HostsRepository, desired, {} as HostAccessService, metrics, new Logger('test', 'error'), { now: () => now });
  const syncId = '7a1c2a0e-8f1b-4d0b-9a52-1f4f3c6f7d10';
  for (let i = 0; i < 100; i += 1) await events.sync({ hostId: 'flood', reason: 'timer', syncId });
  await events.sync({ hostId: 'quiet', reason: 'start' });
  assert.equal(answered.filter(([h]) => h === 'flood').length, HOST_SYNC_BURST);
  assert.deepEqual(answered[0], ['flood', syncId]);
  assert.deepEqual(answered.at(-1), ['quiet', undefined], 'another host is not held back');
  assert.match(await metrics.registry.metrics(), new RegExp(`hostplane_host_syncs_dropped_total ${100 - HOST_SYNC_BURST}`));
  now += HOST_SYNC_REFILL_MS;
  await events.sync({ hostId: 'flood', reason: 'timer' });
  assert.equal(answered.filter(([h]) => h === 'flood').length, HOST_SYNC_BURST + 1, 'one more after the refill period');
});
