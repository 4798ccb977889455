import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '#logging';
import { emptyStatus, type KubeStatus } from '../../libs/kube-status';
import { NodeletStatusPublisher, type EventLink } from './nodelet-status.publisher';

class FakeLink implements EventLink {
  connected = true;
  readonly sent: Array<{ routingKey: string; kind: string; body: Record<string, unknown> }> = [];
  isConnected(): boolean {
    return this.connected;
  }
  async publish(_exchange: string, routingKey: string, kind: string, body: unknown): Promise<void> {
    this.sent.push({ routingKey, kind, body: body as Record<string, unknown> });
  }
}

async function setup(): Promise<{ file: string; link: FakeLink; clock: { ms: number }; publisher: NodeletStatusPublisher }> {
  const dir = await mkdtemp(join(tmpdir(), 'nodelet-publisher-'));
  const link = new FakeLink();
  const clock = { ms: Date.parse('2025-01-01T00:00:00Z') };
  const publisher = new NodeletStatusPublisher('h1', join(dir, 'kube_status'), link, new Logger('t', 'error', { write: () => undefined }), { now: () => new Date(clock.ms) });
  return { file: join(dir, 'kube_status'), link, clock, publisher };
}

function status(over: Partial<KubeStatus> = {}): string {
  return JSON.stringify({
    ...emptyStatus(),
    pf9_kube_node_state: 'ok',
    pf9_cluster_id: 'c1',
    pf9_cluster_role: 'master',
    phases: [{ order: 20, name: 'certificates', state: 'running', message: '', attempts: 1 }],
    nodelet_loop_interval_s: 60,
    nodelet_kube_service_state: 'true',
    ...over,
  });
}

test('nodelet.status from the status file: on change, once per LOOP_INTERVAL at most, the last state of a burst; none when the file goes', async () => {
  const { file, link, clock, publisher } = await setup();
  assert.equal(await publisher.poll(), false, 'no file, nothing said yet');
  await writeFile(file, status());
  assert.equal(await publisher.poll(), true);
  assert.equal(link.sent.length, 1);
  assert.equal(link.sent[0].routingKey, 'host.h1.nodelet');
  assert.equal(link.sent[0].kind, 'nodelet.status');
  assert.deepEqual(link.sent[0].body, {
    hostId: 'h1',
    sentAt: '2025-01-01T00:00:00.000Z',
    state: 'ok',
    clusterId: 'c1',
    role: 'master',
    attempt: 0,
    phases: [{ order: 20, name: 'certificates', state: 'running', message: '', attempts: 1 }],
    kubeServiceState: 'true',
    hold: false,
  });
  assert.equal(await publisher.poll(), false, 'unchanged file: not read again');
  await writeFile(file, status({ status_check_timestamp: 123 }));
  await publisher.poll();
  assert.equal(link.sent.length, 1, 'only a timestamp moved: nothing new to say');

  await writeFile(file, status({ pf9_kube_node_state: 'retrying', pf9_kube_start_attempt: 1 }));
  await publisher.poll();
  await writeFile(file, status({ pf9_kube_node_state: 'retrying', pf9_kube_start_attempt: 2, pf9_cluster_id: 'c1 ' }));
  await publisher.poll();
  assert.equal(link.sent.length, 1, 'within LOOP_INTERVAL of the last: waits');
  clock.ms += 60_000;
  await publisher.flush();
  assert.equal(link.sent.length, 2);
  assert.equal(link.sent[1].body.attempt, 2, 'the newest state of the burst');

  clock.ms += 60_000;
  await rm(file);
  await publisher.poll();
  assert.equal(link.sent.at(-1)?.body.state, 'none');
  publisher.stop();
});

test('while the broker is away nothing is sent; after a reconnect the current state goes again', async () => {
  const { file, link, clock, publisher } = await setup();
  link.connected = false;
  await writeFile(file, status({ etcd_backup: { last_success_at: '2025-01-01T00:00:00.000Z', last_success_size_bytes: 10, last_success_revision: 3, expected_interval_s: 86400, stale: false } }));
  await publisher.poll();
  assert.equal(link.sent.length, 0);
  link.connected = true;
  publisher.resend();
  await new Promise((r) => setImmediate(r));
  assert.equal(link.sent.length, 1);
  assert.deepEqual(link.sent[0].body.etcdBackup, { lastSuccessAt: '2025-01-01T00:00:00.000Z', sizeBytes: 10, revision: 3, expectedIntervalS: 86400 });
  clock.ms += 1000;
  publisher.resend();
  await new Promise((r) => setImmediate(r));
  assert.equal(link.sent.length, 2, 'a reconnect sends it again, whatever the interval');
  publisher.stop();
});

test('a status file that is not nodelet\'s (or half written) is left for the next look', async () => {
  const { file, link, publisher } = await setup();
  await writeFile(file, '{"pf9_kube_node_state": ');
  assert.equal(await publisher.poll(), false);
  await writeFile(file, '[1, 2]');
  assert.equal(await publisher.poll(), false);
  assert.equal(link.sent.length, 0);
  publisher.stop();
});
