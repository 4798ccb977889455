import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostBrokerUser, PkiFiles } from '#contracts';
import { Logger } from '#logging';
import { createHostKeyAndCsr, initPlanePki, loadPlanePki, signHostCsr, writeFileAtomic } from '#pki';
import { webhookKubeconfig, type WebhookKubeconfig } from '../../cli/bouncer.command';
import { startBouncer, type RunningBouncer } from '../../services/bouncer/bouncer.app';
import { loadBouncerConfig } from '../../services/bouncer/bouncer.config';
import { startComms, type RunningComms } from '../../services/comms/comms.app';
import { loadCommsConfig } from '../../services/comms/comms.config';
import { startIngress, type RunningIngress } from '../../services/ingress/ingress.app';
import { loadIngressConfig, type IngressConfig } from '../../services/ingress/ingress.config';
import { createBrokerAccounts } from '../../services/rolestore/broker-users/broker-accounts.factory';
import type { BrokerAccountsService } from '../../services/rolestore/broker-users/broker-accounts.service';
import { loadRolestoreConfig } from '../../services/rolestore/config/rolestore.config';
import { tempDir } from '../support/fixtures';
import { callWebhook, tokenReviewBody, type WebhookAnswer } from '../support/kube-apiserver-client';
import { freePort } from '../support/processes';
import { brokerUrl } from '../support/test-env';
import { TokenReviewResponder, type ResponderAnswer } from '../support/token-review-responder';
import { waitFor } from '../support/wait';

/**
 * The whole path of a review: kube-apiserver → pf9-bouncer → pf9-comms → TLS with the
 * host's certificate → the ingress → the broker, as the host's own broker user → the plane
 * (stood in for by a responder that answers only the host that asks as itself).
 */
describe('pf9-bouncer through the host tunnel', () => {
  const run = randomBytes(4).toString('hex');
  const hostId = `bouncer-${run}`;
  const table = new Map<string, ResponderAnswer>();
  let accounts: BrokerAccountsService;
  let ingressConfig: IngressConfig;
  let ingress: RunningIngress | null = null;
  let comms: RunningComms;
  let responder: TokenReviewResponder;
  let bouncer: RunningBouncer;
  let kubeconfig: WebhookKubeconfig;

  const token = (name: string): string => `hp_${name}_${run}_${randomBytes(16).toString('base64url')}`;
  const review = (t: string): Promise<WebhookAnswer> => callWebhook(kubeconfig, tokenReviewBody(t), { port: bouncer.port });
  const status = (a: WebhookAnswer): Record<string, unknown> => (a.body as { status: Record<string, unknown> }).status;
  const health = async (): Promise<{ plane: string }> => (await fetch(`${bouncer.adminUrl}/healthz`)).json() as Promise<{ plane: string }>;

  before(async () => {
    // The plane: its PKI, the ingress routing pf9-amqp to the broker, and the host's own broker user.
    const dataDir = await tempDir('bouncer-secure-plane');
    await initPlanePki(dataDir, { ingressNames: ['localhost'], ingressIps: ['127.0.0.1'] });
    const { ca } = await loadPlanePki(dataDir);
    const broker = new URL(brokerUrl());
    ingressConfig = loadIngressConfig({
      PF9_DATA_DIR: dataDir,
      PF9_INGRESS_LISTEN: `127.0.0.1:${await freePort()}`,
      PF9_INGRESS_ADMIN: '127.0.0.1:0',
      PF9_INGRESS_ROUTES: `pf9-amqp=${broker.hostname}:${broker.port || 5672}`,
      PF9_LOG_LEVEL: 'error',
    });
    ingress = await startIngress(ingressConfig);
    const rolestoreConfig = loadRolestoreConfig({ AMQP_URL: brokerUrl(), PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL, PF9_HOST_BROKER_USERS: 'on' });
    const service = createBrokerAccounts(rolestoreConfig, new Logger('bouncer-secure-path', 'error'));
    assert.ok(service, 'host broker users on');
    accounts = service;
    responder = await TokenReviewResponder.start((r) => {
      // The plane's rule: only the host itself, speaking as its own broker user, about itself.
      const sender = r.properties.userId;
      if (sender !== hostBrokerUser(hostId) || r.routingKey !== `host.${hostId}.token-review` || r.body.hostId !== hostId) return { error: 'FORBIDDEN' };
      return table.get(String(r.body.token)) ?? { authenticated: false };
    });
    const credentials = await accounts.ensureHostUser(hostId);
    await accounts.grant(hostId);

    // The host, as registration leaves it: key, certificate, the plane's CA, its broker user.
    const root = await tempDir('bouncer-secure-host');
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
    await writeFileAtomic(join(root, PkiFiles.host.key), keyPem, 0o600);
    await writeFileAtomic(join(root, PkiFiles.host.cert), await signHostCsr(ca, csrPem, hostId), 0o644);
    await copyFile(join(dataDir, PkiFiles.plane.caCert), join(root, PkiFiles.host.caCert));
    await writeFileAtomic(join(root, PkiFiles.host.broker), `${JSON.stringify(credentials)}\n`, 0o600);
    comms = await startComms(
      loadCommsConfig({
        PF9_ROOT: root,
        PF9_COMMS_LISTEN: 'amqp=127.0.0.1:0',
        PF9_PLANE_HOST: '127.0.0.1',
        PF9_PLANE_PORT: String(ingressConfig.listen.port),
        PF9_PLANE_SERVERNAME: 'localhost',
        PF9_COMMS_ADMIN: '127.0.0.1:0',
        PF9_COMMS_RETRY_INITIAL_MS: '100',
        PF9_COMMS_RETRY_MAX_MS: '500',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    // comms's local AMQP port, the test broker's vhost, no credentials: broker.json has them.
    const throughComms = new URL(`amqp://127.0.0.1:${comms.listeners.amqp}`);
    throughComms.pathname = broker.pathname;
    bouncer = await startBouncer(
      loadBouncerConfig({
        PF9_ROOT: root,
        AMQP_URL: throughComms.toString(),
        PF9_BOUNCER_LISTEN: '127.0.0.1:0',
        PF9_BOUNCER_ADMIN: '127.0.0.1:0',
        PF9_BOUNCER_CACHE_POSITIVE_S: '30',
        PF9_BOUNCER_CACHE_NEGATIVE_S: '1',
        PF9_BOUNCER_PLANE_TIMEOUT_MS: '2000',
        PF9_LOG_LEVEL: 'error',
      }),
    );
    await waitFor('bouncer connected through comms', async () => (await health()).plane === 'connected', { timeoutMs: 15_000 });
    kubeconfig = webhookKubeconfig(hostId, bouncer.port, await readFile(join(dataDir, PkiFiles.plane.caCert)));
  });

  after(async () => {
    await bouncer?.close();
    await comms?.close();
    await ingress?.close();
    await responder?.stop();
    await accounts?.deleteHostUser(hostId).catch(() => undefined);
  });

  test('a valid token is authenticated by the plane, asked through comms and the ingress as the host\'s own broker user', async () => {
    const t = token('valid');
    const user = { username: 'deployer', uid: randomUUID(), groups: ['hostplane:admin'] };
    table.set(t, { authenticated: true, user });
    assert.deepEqual(status(await review(t)), { authenticated: true, user });
    const asked = responder.received.find((r) => r.body.token === t);
    assert.equal(asked?.properties.userId, hostBrokerUser(hostId), 'user_id, validated by the broker');
    const routed = await (await fetch(`${ingress!.adminUrl}/metrics`)).text();
    assert.match(routed, /connections_total\{route="pf9-amqp"\} [1-9]/, 'through the ingress');
    assert.equal(status(await review(token('wrong'))).authenticated, false);
  });

  test('the plane refusing this host (FORBIDDEN, HOST_NOT_AUTHORIZED): not authenticated, and the status says why', async () => {
    const t = token('refused');
    table.set(t, { error: 'HOST_NOT_AUTHORIZED' });
    assert.deepEqual(status(await review(t)), { authenticated: false, error: 'the plane refused to review tokens for this host (HOST_NOT_AUTHORIZED)' });
  });

  test('the plane unreachable (ingress down): fails closed at once, a cached answer serves, and reviews resume once it is back', async () => {
    const cached = token('cached');
    const user = { username: 'cached', uid: randomUUID(), groups: ['hostplane:viewer'] };
    table.set(cached, { authenticated: true, user });
    assert.equal(status(await review(cached)).authenticated, true);
    const answeredAt = Date.now();

    await ingress!.close();
    ingress = null;
    await waitFor('bouncer to lose the plane', async () => (await health()).plane === 'disconnected', { timeoutMs: 10_000 });
    const started = Date.now();
    assert.deepEqual(status(await review(token('away'))), { authenticated: false, error: 'the plane cannot be asked (not-connected)' });
    assert.ok(Date.now() - started < 1_000, 'fails closed without waiting');
    await waitFor('the cached answer past its freshness', () => Date.now() - answeredAt > 1_000);
    assert.deepEqual(status(await review(cached)), { authenticated: true, user }, 'within the positive TTL');

    ingress = await startIngress(ingressConfig);
    const back = token('back');
    table.set(back, { authenticated: true, user });
    await waitFor('reviews through the plane again', async () => status(await review(back)).authenticated === true, { timeoutMs: 20_000, intervalMs: 250 });
  });
});
