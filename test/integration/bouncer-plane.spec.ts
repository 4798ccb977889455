import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { PkiFiles, type HostJoinResult, type OperatorTokenCreatedView } from '#contracts';
import { createHostKeyAndCsr, initPlanePki, writeFileAtomic } from '#pki';
import { webhookKubeconfig, type WebhookKubeconfig } from '../../cli/bouncer.command';
import { startBouncer, type RunningBouncer } from '../../services/bouncer/bouncer.app';
import { loadBouncerConfig } from '../../services/bouncer/bouncer.config';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { heartbeatBody, tempDir } from '../support/fixtures';
import { callWebhook, tokenReviewBody, type WebhookAnswer } from '../support/kube-apiserver-client';
import { planeFetch } from '../support/operator-auth';
import { RawAmqp } from '../support/raw-amqp';
import { brokerUrl } from '../support/test-env';
import { waitFor } from '../support/wait';

/**
 * pf9-bouncer against the real role store: kube-apiserver's TokenReview → bouncer → the
 * broker, as the host's own broker user → the role store's token.review, which answers
 * only an authorized host, from the plane's operator tokens.
 */
describe('pf9-bouncer against the role store: the plane\'s operator tokens as Kubernetes bearer tokens', () => {
  const hostId = `bouncer-plane-${randomBytes(4).toString('hex')}`;
  let rs: RunningRolestore;
  let hostConnection: amqp.ChannelModel;
  let bouncer: RunningBouncer;
  let kubeconfig: WebhookKubeconfig;

  const review = (token: string): Promise<WebhookAnswer> => callWebhook(kubeconfig, tokenReviewBody(token), { port: bouncer.port });
  const status = async (token: string): Promise<Record<string, unknown>> => ((await review(token)).body as { status: Record<string, unknown> }).status;
  const rest = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await planeFetch(rs, `${rs.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const newToken = async (role: string, ttlS?: number): Promise<OperatorTokenCreatedView> => {
    const created = await rest('POST', '/v1/tokens', { name: `kube-${role}-${randomBytes(3).toString('hex')}`, role, ...(ttlS === undefined ? {} : { ttlS }) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as OperatorTokenCreatedView;
  };

  before(async () => {
    const raw = await RawAmqp.open();
    await raw.purge('pf9.rolestore.events');
    await raw.close();
    const dataDir = await tempDir('bouncer-plane');
    await initPlanePki(dataDir);
    rs = await startRolestore(
      { AMQP_URL: brokerUrl(), PF9_DATA_DIR: dataDir, PF9_API_PORT: '0', PF9_HOST_BROKER_USERS: 'on', PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL, PF9_LOG_LEVEL: 'error' },
      { waitForBrokerMs: 15_000 },
    );
    // The host registers as a host does: a join token, its CSR, a certificate and a broker user of its own.
    const joinToken = await rest('POST', '/v1/join-tokens', {});
    assert.equal(joinToken.status, 201, JSON.stringify(joinToken.body));
    const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
    const joinAnswer = await fetch(`${rs.joinUrl}/v1/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: (joinToken.body as { token: string }).token, hostId, hostname: `${hostId}.test`, csr: csrPem }),
    });
    assert.equal(joinAnswer.status, 200);
    const joined = (await joinAnswer.json()) as HostJoinResult;
    const credentials = joined.broker;
    assert.ok(credentials, 'a broker user of its own');

    // It makes itself known as that broker user.
    const asHost = new URL(brokerUrl());
    asHost.username = credentials.username;
    asHost.password = credentials.password;
    hostConnection = await amqp.connect(asHost.toString());
    const channel = await hostConnection.createConfirmChannel();
    channel.publish('pf9.events', `host.${hostId}.heartbeat`, Buffer.from(JSON.stringify(heartbeatBody(hostId))), {
      type: 'host.heartbeat',
      contentType: 'application/json',
      messageId: randomUUID(),
      userId: credentials.username,
    });
    await channel.waitForConfirms();
    await waitFor('the host on the plane', async () => (await rest('GET', `/v1/hosts/${hostId}`)).status === 200);

    // The master node: its certificate and broker user, as registration leaves them.
    const root = await tempDir('bouncer-plane-host');
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    await writeFileAtomic(join(root, PkiFiles.host.key), keyPem, 0o600);
    await writeFileAtomic(join(root, PkiFiles.host.cert), joined.certificate, 0o644);
    await writeFileAtomic(join(root, PkiFiles.host.broker), `${JSON.stringify(credentials)}\n`, 0o600);
    const broker = new URL(brokerUrl());
    broker.username = '';
    broker.password = '';
    bouncer = await startBouncer(
      loadBouncerConfig({
        PF9_ROOT: root,
        AMQP_URL: broker.toString(),
        PF9_BOUNCER_LISTEN: '127.0.0.1:0',
        PF9_BOUNCER_ADMIN: '127.0.0.1:0',
        PF9_BOUNCER_CACHE_POSITIVE_S: '30',
        PF9_BOUNCER_CACHE_NEGATIVE_S: '1',
        PF9_BOUNCER_PLANE_TIMEOUT_MS: '3000',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    await waitFor('bouncer connected', async () => ((await (await fetch(`${bouncer.adminUrl}/healthz`)).json()) as { plane: string }).plane === 'connected', { timeoutMs: 15_000 });
    kubeconfig = webhookKubeconfig(hostId, bouncer.port, await readFile(join(dataDir, PkiFiles.plane.caCert)));
  });

  after(async () => {
    await bouncer?.close();
    await hostConnection?.close().catch(() => undefined);
    // Decommissioning deletes the host's broker user and revokes its certificate.
    if (rs) await rest('DELETE', `/v1/hosts/${hostId}`).catch(() => undefined);
    await rs?.close();
  });

  test('a host the plane has not authorized is told nothing about a token', async () => {
    const token = await newToken('admin');
    assert.deepEqual(await status(token.token), { authenticated: false, error: 'the plane refused to review tokens for this host (HOST_NOT_AUTHORIZED)' });
  });

  test('authorized: a valid token is its name, id and hostplane:<role>; a wrong one is not; a revoked or expired one is refused within the negative cache time', async () => {
    assert.equal((await rest('POST', `/v1/hosts/${hostId}/authorize`)).status, 200);
    const valid = await newToken('operator');
    assert.deepEqual(await status(valid.token), { authenticated: true, user: { username: valid.name, uid: valid.id, groups: ['hostplane:operator'] } });
    const viewer = await newToken('viewer');
    assert.deepEqual(((await status(viewer.token)).user as { groups: string[] }).groups, ['hostplane:viewer']);
    assert.equal((await status(`hp_${randomBytes(32).toString('base64url')}`)).authenticated, false, 'a token the plane never made');

    assert.equal((await rest('DELETE', `/v1/tokens/${valid.id}`)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal((await status(valid.token)).authenticated, false, 'revoked: refused once the negative cache time (1 s) has passed, though the positive one (30 s) has not');

    const brief = await newToken('operator', 1);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal((await status(brief.token)).authenticated, false, 'expired');
  });

  test('deauthorized: the host is told nothing more', async () => {
    const token = await newToken('admin');
    assert.equal((await rest('POST', `/v1/hosts/${hostId}/deauthorize`)).status, 200);
    assert.equal((await status(token.token)).authenticated, false);
  });
});
