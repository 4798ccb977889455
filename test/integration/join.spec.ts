import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostJoinResult, JoinTokenView } from '#contracts';
import { createHostKeyAndCsr, hostIdOfCert, initPlanePki, loadPlanePki, signRenewalProof } from '#pki';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { ensureRegistered, hostCertificateFiles, RegistrationError } from '../../services/hostagent/registration';
import { renewIfDue } from '../../services/hostagent/certificate-renewal';
import { brokerUrl, databaseUrlFor, DATABASE_KINDS } from '../support/test-env';
import { newHostId, tempDir } from '../support/fixtures';
import { waitFor } from '../support/wait';
import { planeFetch, type AuthenticatedPlane } from '../support/operator-auth';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A POST to the join listener (no operator), or with `plane` to the operators' REST API with its admin token. */
async function postJson(url: string, body: unknown, plane?: AuthenticatedPlane): Promise<Answer> {
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await (plane === undefined ? fetch(url, init) : planeFetch(plane, url, init));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function errorOf(answer: Answer): { code: string; message: string } {
  return answer.body.error as { code: string; message: string };
}

for (const kind of DATABASE_KINDS) {
  describe(`host registration against the role store on ${kind}`, () => {
    let rs: RunningRolestore;
    let dataDir: string;

    async function newToken(request: { ttlS?: number; hostId?: string } = {}): Promise<JoinTokenView> {
      const answer = await postJson(`${rs.url}/v1/join-tokens`, request, rs);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body as unknown as JoinTokenView;
    }

    async function joinWith(token: string, hostId: string, csrHost = hostId): Promise<Answer> {
      const { csrPem } = await createHostKeyAndCsr(csrHost);
      return postJson(`${rs.joinUrl}/v1/join`, { token, hostId, hostname: `${hostId}.test`, csr: csrPem });
    }

    before(async () => {
      dataDir = await tempDir(`join-${kind}`);
      // Started before `pki init`: the role store runs without a PKI, and registration says why it cannot work.
      rs = await startRolestore(
        {
          AMQP_URL: brokerUrl(),
          DATABASE_URL: databaseUrlFor(kind, dataDir),
          PF9_DATA_DIR: dataDir,
          PF9_API_PORT: '0',
          PF9_JOIN_PORT: '0',
          // Registration alone: broker users are broker-users.spec's and secure-path.spec's.
          PF9_HOST_BROKER_USERS: 'off',
          PF9_INSECURE_SHARED_BROKER_USER: 'guest',
          PF9_LOG_LEVEL: 'error',
        },
        { waitForBrokerMs: 15_000 },
      );
    });

    after(async () => {
      await rs?.close();
    });

    test('without a PKI the join listener answers 503 and says to run `hostplane pki init`', async () => {
      const token = await newToken();
      const answer = await joinWith(token.token, newHostId());
      assert.equal(answer.status, 503);
      assert.match(errorOf(answer).message, /run `hostplane pki init`/);
      await initPlanePki(dataDir);
      assert.equal((await joinWith(token.token, newHostId())).status, 200, 'the PKI is picked up without a restart, and the token was not spent');
    });

    test('a host registers with a token from the REST API, and stays unauthorized', async () => {
      const token = await newToken();
      assert.match(token.token, /^[A-Za-z0-9_-]{43}$/);
      const expiresIn = Date.parse(token.expiresAt) - Date.now();
      assert.ok(Math.abs(expiresIn - 24 * 3600 * 1000) < 60_000, token.expiresAt);

      const hostId = newHostId();
      const root = await tempDir(`join-host-${kind}`);
      const outcome = await ensureRegistered({ root, hostId, hostname: `${hostId}.test`, joinUrl: rs.joinUrl, token: token.token });
      assert.equal(outcome.registered, true);

      const { ca } = await loadPlanePki(dataDir);
      const certPem = await readFile(outcome.files.cert, 'utf8');
      const cert = new X509Certificate(certPem);
      assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the plane CA');
      assert.equal(hostIdOfCert(certPem), hostId);
      assert.equal(cert.subject, `CN=${hostId}`);
      assert.equal(await readFile(outcome.files.caCert, 'utf8'), ca.certPem);
      assert.equal(await readFile(join(root, 'etc/pf9/broker.json'), 'utf8').catch(() => 'none'), 'none', 'shared broker credentials by default');

      const host = await planeFetch(rs, `${rs.url}/v1/hosts/${hostId}`);
      assert.equal(host.status, 200);
      const view = (await host.json()) as { state: string; hostname: string };
      assert.deepEqual([view.state, view.hostname], ['unauthorized', `${hostId}.test`]);

      const again = await ensureRegistered({ root, hostId, hostname: `${hostId}.test`, joinUrl: rs.joinUrl });
      assert.equal(again.registered, false, 'a registered host needs no token');
    });

    test('a token cannot be used twice', async () => {
      const token = await newToken();
      assert.equal((await joinWith(token.token, newHostId())).status, 200);
      const second = await joinWith(token.token, newHostId());
      assert.equal(second.status, 403);
      assert.equal(errorOf(second).code, 'FORBIDDEN');
      assert.match(errorOf(second).message, /has been used already/);
      const root = await tempDir(`join-reuse-${kind}`);
      await assert.rejects(
        ensureRegistered({ root, hostId: newHostId(), hostname: 'x', joinUrl: rs.joinUrl, token: token.token }),
        (err: unknown) => err instanceof RegistrationError && err.status === 403 && err.code === 'FORBIDDEN',
      );
    });

    test('an expired token is refused', async () => {
      const token = await newToken({ ttlS: 1 });
      await waitFor('the token to expire', () => Date.now() > Date.parse(token.expiresAt) + 50, { timeoutMs: 5000 });
      const answer = await joinWith(token.token, newHostId());
      assert.equal(answer.status, 403);
      assert.match(errorOf(answer).message, /has expired/);
    });

    test('a CSR naming another host id is refused', async () => {
      const token = await newToken();
      const answer = await joinWith(token.token, newHostId(), 'somebody-else');
      assert.equal(answer.status, 400);
      assert.equal(errorOf(answer).code, 'VALIDATION_FAILED');
      assert.match(errorOf(answer).message, /names host "somebody-else"/);
    });

    test('a registered host joining again with an ordinary token is refused, and the token stays good', async () => {
      const hostId = newHostId();
      assert.equal((await joinWith((await newToken()).token, hostId)).status, 200);
      const token = await newToken();
      assert.equal(token.hostId, undefined, 'an ordinary token is for no host in particular');
      const again = await joinWith(token.token, hostId);
      assert.equal(again.status, 403);
      assert.equal(errorOf(again).code, 'FORBIDDEN');
      assert.equal(
        errorOf(again).message,
        `host ${hostId} is already registered: re-registering it needs a join token made for it (hostplane join-token create --host ${hostId})`,
      );
      assert.equal((await joinWith(token.token, newHostId())).status, 200, 'the refusal did not spend the token');
    });

    test('a registered host joining again with a token made for it gets a new certificate', async () => {
      const hostId = newHostId();
      const first = (await joinWith((await newToken()).token, hostId)).body as unknown as HostJoinResult;
      const token = await newToken({ hostId });
      assert.equal(token.hostId, hostId);
      const second = await joinWith(token.token, hostId);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const serial = (pem: string) => new X509Certificate(pem).serialNumber;
      assert.notEqual(serial((second.body as unknown as HostJoinResult).certificate), serial(first.certificate));
      assert.equal(hostIdOfCert((second.body as unknown as HostJoinResult).certificate), hostId);
    });

    test('a token made for one host is refused to another, and stays good for its host', async () => {
      const hostId = newHostId();
      const token = await newToken({ hostId });
      const other = newHostId();
      const stolen = await joinWith(token.token, other);
      assert.equal(stolen.status, 403);
      assert.equal(errorOf(stolen).code, 'FORBIDDEN');
      assert.match(errorOf(stolen).message, /^the join token was made for another host: /);
      assert.equal((await planeFetch(rs, `${rs.url}/v1/hosts/${other}`)).status, 404, 'the other host was not listed');
      assert.equal((await joinWith(token.token, hostId)).status, 200, 'the refusal did not spend the token');
    });

    test('bad token requests are refused by the REST API', async () => {
      for (const body of [{ ttlS: 0 }, { ttlS: 'soon' }, { ttlS: 31 * 24 * 3600 }, { ttl: 60 }]) {
        const answer = await postJson(`${rs.url}/v1/join-tokens`, body, rs);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(errorOf(answer).code, 'VALIDATION_FAILED');
      }
    });

    test('a host renews its certificate with its current one, without a token; the superseded one renews nothing', async () => {
      const hostId = newHostId();
      const root = await tempDir(`renew-host-${kind}`);
      await ensureRegistered({ root, hostId, hostname: `${hostId}.test`, joinUrl: rs.joinUrl, token: (await newToken()).token });
      const files = hostCertificateFiles(root);
      const oldRoot = await tempDir(`renew-old-${kind}`);
      const oldFiles = hostCertificateFiles(oldRoot);
      await mkdir(oldFiles.dir, { recursive: true });
      await Promise.all([copyFile(files.cert, oldFiles.cert), copyFile(files.key, oldFiles.key)]);
      const previous = await readFile(files.cert, 'utf8');

      assert.equal((await renewIfDue({ root, hostId, joinUrl: rs.joinUrl })).state, 'not-due');
      const renewed = await renewIfDue({ root, hostId, joinUrl: rs.joinUrl, renewBeforeDays: 400 });
      assert.equal(renewed.state, 'renewed');
      const certPem = await readFile(files.cert, 'utf8');
      assert.notEqual(certPem, previous);
      assert.equal(hostIdOfCert(certPem), hostId);

      // The copy of the superseded pair is refused; the renewed pair renews again.
      await assert.rejects(renewIfDue({ root: oldRoot, hostId, joinUrl: rs.joinUrl, renewBeforeDays: 400 }), (err: unknown) => {
        assert.ok(err instanceof RegistrationError);
        assert.equal(err.status, 403);
        assert.match(err.message, /not the one the plane last issued to this host/);
        return true;
      });
      assert.equal((await renewIfDue({ root, hostId, joinUrl: rs.joinUrl, renewBeforeDays: 400 })).state, 'renewed');

      // A request sent twice (the first answer lost): the same certificate twice.
      const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
      const next = await createHostKeyAndCsr(hostId);
      const request = { hostId, certificate: cert, csr: next.csrPem, proof: signRenewalProof(key, cert, next.csrPem) };
      const first = await postJson(`${rs.joinUrl}/v1/renew`, request);
      const second = await postJson(`${rs.joinUrl}/v1/renew`, request);
      assert.deepEqual([first.status, second.status], [200, 200]);
      assert.equal(second.body.certificate, first.body.certificate);
    });

    test('a token request whose hostId is not a host id is refused by the REST API', async () => {
      for (const hostId of ['a.b', '', '-a', 'x'.repeat(65), 7]) {
        const answer = await postJson(`${rs.url}/v1/join-tokens`, { hostId }, rs);
        assert.equal(answer.status, 400, JSON.stringify(hostId));
        assert.equal(errorOf(answer).code, 'VALIDATION_FAILED');
        assert.deepEqual((answer.body.error as { details: { path: string }[] }).details.map((d) => d.path), ['hostId']);
      }
    });
  });
}
