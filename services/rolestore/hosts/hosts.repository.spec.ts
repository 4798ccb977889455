import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostHeartbeatEvent, NodeletStatusEvent } from '#contracts';
import { migrate } from '../database/migrations';
import { SqliteDatabase } from '../database/sqlite.database';
import { HostsRepository } from './hosts.repository';

test('hosts come back as domain values: JSON parsed, flags as booleans, times and generations as numbers', async () => {
  const db = new SqliteDatabase(':memory:');
  await migrate(db);
  const hosts = new HostsRepository(db);
  const info = { hostId: 'h1', hostname: 'one', agentVersion: '1.0.0' } as HostHeartbeatEvent;
  await hosts.upsertHeartbeats([{ hostId: 'h1', hostname: 'one', info, receivedMs: 1_000 }]);
  await hosts.transaction(async (tx) => {
    const generation = await hosts.nextGeneration(tx, 'h1', 2_000);
    await hosts.assignRole(tx, 'h1', 'web', '1.2.3', { port: 8080, tls: { on: true } }, generation, 2_000);
  });
  assert.deepEqual(await hosts.find('h1'), { id: 'h1', hostname: 'one', state: 'unauthorized', generation: 1, info, lastHeartbeatMs: 1_000, createdMs: 1_000, updatedMs: 2_000 });
  assert.deepEqual(await hosts.findRole('h1', 'web'), {
    hostId: 'h1',
    role: 'web',
    version: '1.2.3',
    config: { port: 8080, tls: { on: true } },
    assigned: true,
    desiredGeneration: 1,
    appliedGeneration: null,
    appliedVersion: null,
    state: null,
    message: null,
    log: null,
    desiredMs: 2_000,
    updatedMs: 2_000,
    failures: 0,
    retry: 0,
  });
  await hosts.transaction((tx) => hosts.unassignRoles(tx, 'h1', 'all', 2, 3_000));
  assert.equal((await hosts.roles('h1'))[0]?.assigned, false);
  const status = { hostId: 'h1', sentAt: '2030-01-01T00:00:00.000Z', state: 'ready', phases: [] } as unknown as NodeletStatusEvent;
  await hosts.upsertNodelet('h1', status, 5_000, 6_000);
  assert.deepEqual(await hosts.findNodelet('h1'), { hostId: 'h1', status, sentMs: 5_000, receivedMs: 6_000 });
  await db.close();
});
