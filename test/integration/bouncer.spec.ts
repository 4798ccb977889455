import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PkiFiles } from '#contracts';
import { Logger } from '#logging';
import { createHostKeyAndCsr, initPlanePki, loadPlanePki, signHostCsr, writeFileAtomic, type CertifiedKey } from '#pki';
import { webhookKubeconfig, type WebhookKubeconfig } from '../../cli/bouncer.command';
import { startBouncer, type RunningBouncer } from '../../services/bouncer/bouncer.app';
import { loadBouncerConfig } from '../../services/bouncer/bouncer.config';
import { tempDir } from '../support/fixtures';
import { callWebhook, tokenReviewBody, type WebhookAnswer } from '../support/kube-apiserver-client';
import { brokerUrl } from '../support/test-env';
import { TokenReviewResponder, type ResponderAnswer } from '../support/token-review-responder';
import { waitFor } from '../support/wait';

const run = randomBytes(4).toString('hex');
/** Tokens as the plane might make them; each test its own, so that the cache of one does not answer another. */
const token = (name: string): string => `hp_${name}_${run}_${randomBytes(16).toString('base64url')}`;
const operator = (name: string) => ({ username: name, uid: randomUUID(), groups: ['hostplane:operator'] });

/**
 * pf9-bouncer as kube-apiserver sees it: real HTTPS with the host's certificate from the
 * plane's CA, TokenReviews exactly as the API server sends them, and the plane's side of
 * token.review stood in for by a responder on the real broker.
 */
describe('pf9-bouncer: kube-apiserver\'s webhook token authenticator', () => {
  const hostId = randomUUID();
  const lines: string[] = [];
  /** The plane's operator tokens, as the stand-in plane answers them. */
  const table = new Map<string, ResponderAnswer>();
  let responder: TokenReviewResponder | null = null;
  let bouncer: RunningBouncer;
  let kubeconfig: WebhookKubeconfig;
  let root: string;
  let ca: CertifiedKey;
  let caFile: string;

  const answer = (t: string): ResponderAnswer => table.get(t) ?? { authenticated: false };
  const review = (t: string): Promise<WebhookAnswer> => callWebhook(kubeconfig, tokenReviewBody(t, { audiences: ['https://kubernetes.default.svc.cluster.local'] }), { port: bouncer.port });
  const status = (a: WebhookAnswer): Record<string, unknown> => (a.body as { status: Record<string, unknown> }).status;
  const metrics = async (): Promise<string> => (await fetch(`${bouncer.adminUrl}/metrics`)).text();
  const counter = async (pattern: RegExp): Promise<number> => Number(pattern.exec(await metrics())?.[1] ?? 'NaN');

  async function writeHostPair(): Promise<void> {
    const { keyPem, csrPem } = await createHostKeyAndCsr(hostId);
    await writeFileAtomic(join(root, PkiFiles.host.key), keyPem, 0o600);
    await writeFileAtomic(join(root, PkiFiles.host.cert), await signHostCsr(ca, csrPem, hostId), 0o644);
  }

  before(async () => {
    const dataDir = await tempDir('bouncer-plane');
    await initPlanePki(dataDir);
    const pki = await loadPlanePki(dataDir);
    ca = pki.ca;
    caFile = pki.paths.caCert;
    root = await tempDir('bouncer-host');
    await mkdir(join(root, PkiFiles.host.dir), { recursive: true });
    await writeHostPair();
    responder = await TokenReviewResponder.start((r) => answer(String(r.body.token)));
    bouncer = await startBouncer(
      loadBouncerConfig({
        PF9_ROOT: root,
        AMQP_URL: brokerUrl(),
        PF9_BOUNCER_LISTEN: '127.0.0.1:0',
        PF9_BOUNCER_ADMIN: '127.0.0.1:0',
        PF9_BOUNCER_CACHE_POSITIVE_S: '4',
        PF9_BOUNCER_CACHE_NEGATIVE_S: '1',
        PF9_BOUNCER_PLANE_TIMEOUT_MS: '1500',
      }),
      { logger: new Logger('bouncer', 'debug', { write: (line) => lines.push(line) }) },
    );
    await waitFor('bouncer connected to the broker', async () => ((await (await fetch(`${bouncer.adminUrl}/healthz`)).json()) as { plane: string }).plane === 'connected');
    kubeconfig = webhookKubeconfig(hostId, bouncer.port, await readFile(caFile));
  });

  after(async () => {
    await bouncer?.close();
    await responder?.stop();
  });

  test('a valid operator token: authenticated, with username, uid and hostplane:<role> groups', async () => {
    const t = token('valid');
    const user = operator('ci-deployer');
    table.set(t, { authenticated: true, user });
    const answered = await review(t);
    assert.equal(answered.status, 200);
    assert.deepEqual(answered.body, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: true, user } });
    // What the plane was asked, and how.
    const asked = responder!.received.find((r) => r.body.token === t);
    assert.ok(asked, 'the plane was asked');
    assert.equal(asked.routingKey, `host.${hostId}.token-review`);
    assert.deepEqual(asked.body, { hostId, token: t });
    assert.equal(asked.properties.type, 'token.review');
    assert.match(String(asked.properties.replyTo), /^amq\.rabbitmq\.reply-to\./, 'direct reply-to (the broker names the channel behind it)');
    assert.equal(asked.properties.contentType, 'application/json');
    assert.equal(asked.properties.expiration, '1500', 'a request nobody took in time is dropped');
    assert.notEqual(asked.properties.deliveryMode, 2, 'not persistent');
  });

  test('a wrong token: not authenticated', async () => {
    const answered = await review(token('wrong'));
    assert.equal(answered.status, 200);
    assert.deepEqual(answered.body, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', status: { authenticated: false } });
  });

  test('an expired token (the plane says no): not authenticated; and an answer whose expiry has passed is no', async () => {
    const expired = token('expired');
    table.set(expired, { authenticated: false });
    assert.equal(status(await review(expired)).authenticated, false);
    const lapsing = token('lapsing');
    table.set(lapsing, { authenticated: true, user: operator('lapsing'), expiresAt: new Date(Date.now() - 1000).toISOString() });
    assert.equal(status(await review(lapsing)).authenticated, false);
  });

  test('revoked: refused within the negative cache time (1 s here) of its revocation, not after the positive one (4 s)', async () => {
    const t = token('revoked');
    table.set(t, { authenticated: true, user: operator('soon-revoked') });
    assert.equal(status(await review(t)).authenticated, true);
    table.set(t, { authenticated: false });
    const revokedAt = Date.now();
    await waitFor('the revoked token refused', async () => status(await review(t)).authenticated === false, { timeoutMs: 4_000, intervalMs: 100 });
    const tookMs = Date.now() - revokedAt;
    assert.ok(tookMs < 1_000 + 500, `refused ${tookMs} ms after the revocation`);
    assert.equal(status(await review(t)).authenticated, false, 'and stays refused');
  });

  test('malformed bodies, another apiVersion, and what is no TokenReview POST: 4xx with a Status, the plane not asked', async () => {
    const asked = responder!.received.length;
    const t = token('malformed');
    const cases: Array<[string | Buffer | object, { method?: string; path?: string; contentType?: string }, number]> = [
      ['{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":', {}, 400],
      [{ ...tokenReviewBody(t), apiVersion: 'authentication.k8s.io/v1beta1' }, {}, 400],
      [{ ...tokenReviewBody(t), apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview' }, {}, 400],
      [{ ...tokenReviewBody(t), spec: {} }, {}, 400],
      [{ ...tokenReviewBody(t), spec: { token: '' } }, {}, 400],
      ['[]', {}, 400],
      [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), {}, 400],
      [`{"a":${'['.repeat(100)}${']'.repeat(100)}}`, {}, 400],
      [tokenReviewBody(t), { contentType: 'application/x-www-form-urlencoded' }, 415],
      [tokenReviewBody(t), { contentType: 'text/plain' }, 415],
      [tokenReviewBody(t), { method: 'PUT' }, 405],
      ['', { method: 'GET' }, 405],
      [tokenReviewBody(t), { path: '/apis/authentication.k8s.io/v1/tokenreviews' }, 404],
      [tokenReviewBody(`${t}${'x'.repeat(70_000)}`), {}, 413],
    ];
    for (const [body, options, expected] of cases) {
      const answered = await callWebhook(kubeconfig, body, { port: bouncer.port, ...options });
      assert.equal(answered.status, expected, `${JSON.stringify(options)} ${(typeof body === 'string' || Buffer.isBuffer(body) ? body.toString() : JSON.stringify(body)).slice(0, 80)}`);
      assert.equal((answered.body as { kind?: string }).kind, 'Status');
    }
    const v1beta1 = await callWebhook(kubeconfig, { ...tokenReviewBody(t), apiVersion: 'authentication.k8s.io/v1beta1' }, { port: bouncer.port });
    assert.match(String((v1beta1.body as { message: string }).message), /--authentication-token-webhook-version=v1/);
    assert.equal(responder!.received.length, asked, 'the plane was not asked');
    assert.ok((await counter(/^hostplane_bouncer_reviews_total\{outcome="malformed"\} (\d+)$/m)) >= cases.length);
  });

  test('a token that is no operator token at all (a service account JWT is too long, a token with a space) is refused without asking the plane', async () => {
    const asked = responder!.received.length;
    for (const t of [`eyJhbGciOiJSUzI1NiJ9.${'a'.repeat(1100)}.sig`, 'two words']) assert.equal(status(await review(t)).authenticated, false);
    assert.equal(responder!.received.length, asked);
  });

  test('metrics: reviews by outcome, cache hits and misses, plane latency; no token anywhere in them or in the logs', async () => {
    const t = token('metrics');
    table.set(t, { authenticated: true, user: operator('metrics') });
    const hits = await counter(/^hostplane_bouncer_cache_hits_total\{answer="positive"\} (\d+)$/m);
    await review(t);
    await review(t);
    const text = await metrics();
    assert.match(text, /^hostplane_bouncer_reviews_total\{outcome="authenticated"\} [1-9]\d*$/m);
    assert.match(text, /^hostplane_bouncer_reviews_total\{outcome="denied"\} [1-9]\d*$/m);
    assert.match(text, /^hostplane_bouncer_reviews_total\{outcome="error"\} \d+$/m);
    assert.equal(await counter(/^hostplane_bouncer_cache_hits_total\{answer="positive"\} (\d+)$/m), hits + 1);
    assert.match(text, /^hostplane_bouncer_cache_misses_total [1-9]\d*$/m);
    assert.match(text, /^hostplane_bouncer_plane_request_seconds_count\{result="answered"\} [1-9]\d*$/m);
    assert.match(text, /^hostplane_bouncer_plane_request_seconds_bucket\{le="0.1",result="answered"\} \d+$/m);
    assert.match(text, /^hostplane_bouncer_plane_connected 1$/m);
    assert.match(text, /^hostplane_bouncer_certificate_expiry_timestamp_seconds \d+$/m);
    assert.doesNotMatch(text, new RegExp(`hp_[a-z-]+_${run}_`), 'no token in the metrics');
    assert.ok(lines.length > 0);
    assert.doesNotMatch(lines.join('\n'), new RegExp(`hp_[a-z-]+_${run}_`), 'no token in the logs');
  });

  test('the host certificate verifies for <hostId>.hosts.hostplane.internal against the plane\'s CA (openssl s_client -verify_hostname), and for no other name', async () => {
    const sClient = async (name: string): Promise<string> => {
      const running = promisify(execFile)(
        '/usr/bin/openssl',
        ['s_client', '-connect', `127.0.0.1:${bouncer.port}`, '-servername', name, '-verify_hostname', name, '-CAfile', caFile, '-brief'],
        { timeout: 10_000 },
      );
      running.child.stdin?.end(); // nothing to send: s_client ends once the handshake is done
      const result = await running.catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
      return `${result.stdout}${result.stderr}`;
    };
    const good = await sClient(`${hostId}.hosts.hostplane.internal`);
    assert.match(good, /Verification: OK/, good);
    assert.match(good, new RegExp(`Verified peername: ${hostId}\\.hosts\\.hostplane\\.internal`));
    const other = await sClient('plane.example.com');
    assert.doesNotMatch(other, /Verification: OK/);
    assert.match(other, /hostname mismatch/, other);
    // kube-apiserver with tls-server-name of another host: refused before a byte of the review is sent.
    const foreign = webhookKubeconfig(randomUUID(), bouncer.port, await readFile(caFile));
    await assert.rejects(callWebhook(foreign, tokenReviewBody(token('x')), { port: bouncer.port }), /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/);
  });

  test('a renewed host certificate is served to new connections without a restart', async () => {
    const before = (await review(token('before-renewal'))).serial;
    await writeHostPair();
    assert.equal(bouncer.reloadCertificates(), true);
    const after = await review(token('after-renewal'));
    assert.equal(after.status, 200);
    assert.notEqual(after.serial, before);
    assert.equal(after.serial, new X509Certificate(await readFile(join(root, PkiFiles.host.cert))).serialNumber.toLowerCase());
  });

  test('plane away: fails closed with nothing cached; a cached positive answer still serves within the positive TTL, and not past it', async () => {
    const cached = token('cached');
    const user = operator('cached');
    table.set(cached, { authenticated: true, user });
    const answeredAt = Date.now();
    assert.equal(status(await review(cached)).authenticated, true);

    // The plane stops answering (still bound: every question times out).
    table.set(cached, 'silent');
    const silentToken = token('silent');
    table.set(silentToken, 'silent');
    const started = Date.now();
    const silent = await review(silentToken);
    assert.deepEqual(status(silent), { authenticated: false, error: 'the plane cannot be asked (timeout)' });
    assert.ok(Date.now() - started >= 1_400, 'after the plane timeout');

    // The plane goes away (its queue gone): nothing takes the question, refused at once.
    await responder!.stop();
    responder = null;
    const fresh = Date.now();
    assert.deepEqual(status(await review(token('nobody'))), { authenticated: false, error: 'the plane cannot be asked (unroutable)' });
    assert.ok(Date.now() - fresh < 1_000, 'without waiting for a timeout');
    assert.ok(lines.some((l) => /fail closed/.test(l)));

    // Past its freshness (1 s: the timeout above took longer) the cached answer is asked about again, cannot be, and is used.
    const staleBefore = await counter(/^hostplane_bouncer_cache_stale_answers_total (\d+)$/m);
    assert.ok(Date.now() - answeredAt >= 1_000, 'no longer fresh');
    const stale = await review(cached);
    assert.ok(Date.now() - answeredAt < 4_000, 'still within the positive TTL');
    assert.deepEqual(status(stale), { authenticated: true, user });
    assert.equal(await counter(/^hostplane_bouncer_cache_stale_answers_total (\d+)$/m), staleBefore + 1);
    await waitFor('the cached answer no longer used past the positive TTL', async () => status(await review(cached)).authenticated === false, { timeoutMs: 6_000, intervalMs: 200 });
    assert.ok(Date.now() - answeredAt >= 4_000, 'not before the positive TTL');
  });
});
