import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { hostBrokerUser, type HostBrokerAccount, type HostJoinResult, type HostRenewResult } from '#contracts';
import { Logger } from '#logging';
import { certificateFacts, createCa, createHostKeyAndCsr, hostIdOfCert, initPlanePki, isSignedBy, keyMatchesCert, loadPlanePki, signHostCsr, signRenewalProof } from '#pki';
import { SqliteDatabase } from '../database/sqlite.database';
import { migrate, MIGRATIONS } from '../database/migrations';
import type { BrokerAccounts } from './broker-accounts';
import { JoinHttpListener } from './join.http-listener';
import { JoinRepository } from './join.repository';
import { JoinService } from './join.service';
import { hashJoinToken, JoinTokensService } from './join-tokens.service';
import { PlanePkiSource } from './plane-pki.source';
import { waitFor } from '../../../test/support/wait';

const quiet = new Logger('test', 'error', { write: () => undefined });

class FakeBrokerAccounts implements BrokerAccounts {
  readonly calls: string[] = [];
  readonly planeBrokerUser = 'plane';
  failNext = false;
  shared = false;
  /** What joinRefusal() answers: the plane admits no host on a shared identity. */
  refusal: string | null = null;
  joinRefusal(): string | null {
    return this.refusal;
  }

  async ensureHostUser(hostId: string): Promise<HostBrokerAccount | null> {
    this.calls.push(hostId);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('management API down');
    }
    return this.shared ? null : { username: hostBrokerUser(hostId), password: `secret-${this.calls.length}` };
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

describe('join listener', () => {
  let dataDir: string;
  let db: SqliteDatabase;
  let repository: JoinRepository;
  let tokens: JoinTokensService;
  let broker: FakeBrokerAccounts;
  let listener: JoinHttpListener;
  let joins: JoinService;
  let url: string;
  let now: number;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'join-'));
    db = new SqliteDatabase(':memory:');
    await migrate(db);
    repository = new JoinRepository(db);
    now = Date.parse('2030-01-01T00:00:00Z');
    const clock = { now: () => now };
    tokens = new JoinTokensService(repository, quiet, clock);
    broker = new FakeBrokerAccounts();
    joins = new JoinService(repository, new PlanePkiSource({ dataDir }), broker, quiet, clock);
    listener = new JoinHttpListener(joins, quiet);
    url = await listener.listen(0, '127.0.0.1');
  });

  afterEach(async () => {
    await listener.close();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function post(body: unknown, init: { contentType?: string; path?: string; method?: string; raw?: string } = {}): Promise<Answer> {
    const res = await fetch(`${url}${init.path ?? '/v1/join'}`, {
      method: init.method ?? 'POST',
      headers: { 'content-type': init.contentType ?? 'application/json' },
      body: init.method === 'GET' ? undefined : (init.raw ?? JSON.stringify(body)),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  async function joinRequest(hostId: string, token?: string, csrHost = hostId): Promise<{ body: Record<string, unknown>; keyPem: string }> {
    const { keyPem, csrPem } = await createHostKeyAndCsr(csrHost);
    return { keyPem, body: { token: token ?? (await tokens.create({})).token, hostId, hostname: `${hostId}.example`, csr: csrPem } };
  }

  /** The serials in the plane's CRL file, checked to be signed by the plane's CA. */
  async function revokedSerials(): Promise<string[]> {
    const crl = new x509.X509Crl(await readFile(join(dataDir, 'pki/hosts.crl'), 'utf8'));
    const { ca } = await loadPlanePki(dataDir);
    assert.ok(await crl.verify({ publicKey: await new x509.X509Certificate(ca.certPem).publicKey.export() }), 'signed by the plane CA');
    return crl.entries.map((entry) => entry.serialNumber.toLowerCase());
  }

  /** The reasonCode of each entry of the plane's CRL. */
  async function revokedReasons(): Promise<Array<x509.X509CrlReason | undefined>> {
    return new x509.X509Crl(await readFile(join(dataDir, 'pki/hosts.crl'), 'utf8')).entries.map((entry) => entry.reason);
  }

  function errorOf(answer: Answer): { code: string; message: string; details: unknown[] } {
    return answer.body.error as { code: string; message: string; details: unknown[] };
  }

  it('answers 503 until the plane has a PKI, then registers without a restart', async () => {
    const { body } = await joinRequest('host-a');
    const unavailable = await post(body);
    assert.equal(unavailable.status, 503);
    assert.equal(errorOf(unavailable).code, 'INTERNAL');
    assert.match(errorOf(unavailable).message, /run `hostplane pki init`/);
    await initPlanePki(dataDir);
    assert.equal((await post(body)).status, 200, 'the token was not spent by the 503');
  });

  describe('with a PKI', () => {
    beforeEach(async () => {
      await initPlanePki(dataDir);
    });

    it('issues a certificate for the host, records it, and lists the host unauthorized', async () => {
      const { body, keyPem } = await joinRequest('host-a');
      const answer = await post(body);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      const result = answer.body as unknown as HostJoinResult;
      const { ca } = await loadPlanePki(dataDir);
      assert.equal(result.hostId, 'host-a');
      assert.equal(result.caCertificate, ca.certPem);
      assert.ok(isSignedBy(result.certificate, ca.certPem));
      assert.ok(keyMatchesCert(keyPem, result.certificate));
      assert.equal(hostIdOfCert(result.certificate), 'host-a');
      assert.deepEqual(result.broker, { username: 'pf9-host-host-a', password: 'secret-1' });

      const token = await repository.findToken(hashJoinToken(String(body.token)));
      assert.deepEqual([token?.usedMs, token?.usedBy], [now, 'host-a']);
      const cert = await repository.findCertificate('host-a');
      assert.equal(cert?.issuedMs, now);
      assert.match(cert?.serial ?? '', /^[0-9a-f]{32}$/);
      const hosts = await db.query<{ id: string; hostname: string; state: string }>('SELECT id, hostname, state FROM hosts');
      assert.deepEqual(hosts.map((h) => ({ ...h })), [{ id: 'host-a', hostname: 'host-a.example', state: 'unauthorized' }]);
    });

    it('answers broker null when hosts use the shared broker credentials', async () => {
      broker.shared = true;
      const answer = await post((await joinRequest('host-a')).body);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.broker, null);
    });

    it('refuses every join with 503 while the plane admits no host on the identity it could give it, and the token stays good', async () => {
      broker.refusal = 'the plane cannot give hosts broker users of their own';
      const { body } = await joinRequest('host-a');
      const refused = await post(body);
      assert.equal(refused.status, 503);
      assert.match(errorOf(refused).message, /cannot give hosts broker users/);
      assert.deepEqual(broker.calls, []);
      broker.refusal = null;
      const joined = await post(body);
      assert.equal(joined.status, 200);
      assert.equal((joined.body as unknown as HostJoinResult).planeBrokerUser, 'plane');
    });

    it('refuses a token used already, expired, or unknown, with 403', async () => {
      const first = await joinRequest('host-a');
      assert.equal((await post(first.body)).status, 200);
      const reused = await post((await joinRequest('host-b', String(first.body.token))).body);
      assert.equal(reused.status, 403);
      assert.equal(errorOf(reused).code, 'FORBIDDEN');
      assert.match(errorOf(reused).message, /has been used already/);

      const short = await tokens.create({ ttlS: 60 });
      now += 60_000;
      const expired = await post((await joinRequest('host-c', short.token)).body);
      assert.equal(expired.status, 403);
      assert.match(errorOf(expired).message, /has expired/);

      const unknown = await post((await joinRequest('host-d', 'A'.repeat(43))).body);
      assert.equal(unknown.status, 403);
      assert.match(errorOf(unknown).message, /is not valid/);
      assert.deepEqual(broker.calls, ['host-a']);
    });

    it('refuses a CSR that names another host with 400, and the token stays good', async () => {
      const { body } = await joinRequest('host-b', undefined, 'host-a');
      const answer = await post(body);
      assert.equal(answer.status, 400);
      assert.equal(errorOf(answer).code, 'VALIDATION_FAILED');
      assert.match(errorOf(answer).message, /names host "host-a", not "host-b"/);
      assert.deepEqual(errorOf(answer).details, [{ path: 'csr', problems: ['the certificate request names host "host-a", not "host-b"'] }]);
      assert.equal((await post((await joinRequest('host-b', String(body.token))).body)).status, 200);
      assert.equal(await repository.findCertificate('host-a'), null);
    });

    it('gives the token back when the broker user cannot be made', async () => {
      const { body } = await joinRequest('host-a');
      broker.failNext = true;
      const failed = await post(body);
      assert.equal(failed.status, 500);
      assert.match(errorOf(failed).message, /try again with the same token/);
      assert.equal(await repository.findCertificate('host-a'), null);
      assert.equal((await post(body)).status, 200);
    });

    it('a registered host joining again with an ordinary token is refused with 403, and the token stays good', async () => {
      assert.equal((await post((await joinRequest('host-a')).body)).status, 200);
      const serial = (await repository.findCertificate('host-a'))?.serial;
      const { body } = await joinRequest('host-a');
      const again = await post(body);
      assert.equal(again.status, 403);
      assert.equal(errorOf(again).code, 'FORBIDDEN');
      assert.equal(
        errorOf(again).message,
        'host host-a is already registered: re-registering it needs a join token made for it (hostplane join-token create --host host-a)',
      );
      const token = await repository.findToken(hashJoinToken(String(body.token)));
      assert.deepEqual([token?.usedMs, token?.usedBy], [null, null]);
      assert.equal((await repository.findCertificate('host-a'))?.serial, serial);
      assert.deepEqual(broker.calls, ['host-a'], 'no broker credentials were issued for the refused join');
      assert.equal((await post((await joinRequest('host-b', String(body.token))).body)).status, 200, 'a new host can still use the token');
    });

    it('a registered host joining again with a token made for it gets a new certificate and keeps its state', async () => {
      const first = (await post((await joinRequest('host-a')).body)).body as unknown as HostJoinResult;
      const serial = (await repository.findCertificate('host-a'))?.serial;
      await db.execute(`UPDATE hosts SET state = 'authorized' WHERE id = 'host-a'`);
      const bound = await tokens.create({ hostId: 'host-a' });
      const again = await post((await joinRequest('host-a', bound.token)).body);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.notEqual((again.body as unknown as HostJoinResult).certificate, first.certificate);
      assert.notEqual((await repository.findCertificate('host-a'))?.serial, serial);
      assert.deepEqual(await revokedSerials(), [serial], 'the certificate it had is revoked');
      const [host] = await db.query<{ state: string }>(`SELECT state FROM hosts WHERE id = 'host-a'`);
      assert.equal(host.state, 'authorized');
      assert.equal((await repository.findToken(hashJoinToken(bound.token)))?.usedBy, 'host-a');
    });

    it('refuses a token made for another host with 403, and the token stays good for its host', async () => {
      const bound = await tokens.create({ hostId: 'host-a' });
      const stolen = await post((await joinRequest('host-b', bound.token)).body);
      assert.equal(stolen.status, 403);
      assert.equal(errorOf(stolen).code, 'FORBIDDEN');
      assert.match(errorOf(stolen).message, /^the join token was made for another host: /);
      assert.doesNotMatch(errorOf(stolen).message, /host-a/, 'the answer does not say which host the token is for');
      const token = await repository.findToken(hashJoinToken(bound.token));
      assert.deepEqual([token?.usedMs, token?.usedBy], [null, null]);
      assert.equal(await repository.findCertificate('host-b'), null);
      assert.deepEqual(broker.calls, []);
      assert.equal((await post((await joinRequest('host-a', bound.token)).body)).status, 200, 'a new host may join with a token made for it');
    });

    it('refuses a token made for a registered host when another host id uses it', async () => {
      assert.equal((await post((await joinRequest('host-a')).body)).status, 200);
      const bound = await tokens.create({ hostId: 'host-a' });
      const answer = await post((await joinRequest('host-b', bound.token)).body);
      assert.equal(answer.status, 403);
      assert.match(errorOf(answer).message, /made for another host/);
      assert.equal((await repository.findToken(hashJoinToken(bound.token)))?.usedMs, null);
    });

    it('lets one of many simultaneous joins with one token through', async () => {
      const token = (await tokens.create({})).token;
      const bodies = await Promise.all(['h1', 'h2', 'h3', 'h4', 'h5'].map(async (id) => (await joinRequest(id, token)).body));
      const statuses = (await Promise.all(bodies.map((b) => post(b)))).map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 403, 403, 403, 403]);
      assert.equal(broker.calls.length, 1);
    });

    it('lets one of two simultaneous joins of one new host id with two tokens through', async () => {
      const [first, second] = [(await tokens.create({})).token, (await tokens.create({})).token];
      const bodies = await Promise.all([first, second].map(async (token) => (await joinRequest('host-new', token)).body));
      const answers = await Promise.all(bodies.map((b) => post(b)));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 403]);
      const refused = answers.find((a) => a.status === 403);
      assert.ok(refused);
      assert.match(errorOf(refused).message, /^host host-new is already registered/);
      const used = await Promise.all([first, second].map(async (token) => (await repository.findToken(hashJoinToken(token)))?.usedBy ?? null));
      assert.deepEqual(used.sort(), ['host-new', null], 'the refused join did not spend its token');
      assert.notEqual((await repository.findCertificate('host-new'))?.serial, '', 'the certificate is recorded');
      assert.equal(broker.calls.length, 1);
    });

    describe('renewal', () => {
      /** A registered host: its key and certificate, issued through the join route. */
      async function registered(hostId: string): Promise<{ keyPem: string; certificate: string }> {
        const { body, keyPem } = await joinRequest(hostId);
        const answer = await post(body);
        assert.equal(answer.status, 200);
        return { keyPem, certificate: (answer.body as unknown as HostJoinResult).certificate };
      }

      /** A renewal request: a new key and CSR, signed with `signingKey` (the current key unless told). */
      async function renewal(hostId: string, current: { keyPem: string; certificate: string }, signingKey = current.keyPem): Promise<{ body: Record<string, unknown>; keyPem: string }> {
        const next = await createHostKeyAndCsr(hostId);
        return { keyPem: next.keyPem, body: { hostId, certificate: current.certificate, csr: next.csrPem, proof: signRenewalProof(signingKey, current.certificate, next.csrPem) } };
      }

      beforeEach(() => {
        // Certificates are issued with the real time; the service's clock must agree.
        now = Date.now();
      });

      it("revokeHost withdraws the host's current certificate, superseded or not, and writes the CRL before it answers", async () => {
        const current = await registered('host-x');
        const serial = certificateFacts(current.certificate).serial;
        assert.equal(await joins.revokeHost('host-x'), true);
        assert.deepEqual(await revokedSerials(), [serial]);
        assert.deepEqual(await revokedReasons(), [x509.X509CrlReason.cessationOfOperation], 'its open connections are to be closed');
        assert.equal(await joins.revokeHost('host-x'), true, 'again: still listed, still withdrawn');
        assert.equal(await joins.revokeHost('nobody'), false);
      });

      it('renews for a host waiting to be authorized and for an authorized one; refuses a deauthorized or decommissioned one with 403', async () => {
        const waiting = await registered('host-w');
        assert.equal((await post((await renewal('host-w', waiting)).body, { path: '/v1/renew' })).status, 200, 'never authorized: waits for an operator');
        const authorized = await registered('host-a');
        await db.execute(`UPDATE hosts SET state = 'authorized', generation = 1 WHERE id = 'host-a'`);
        assert.equal((await post((await renewal('host-a', authorized)).body, { path: '/v1/renew' })).status, 200);

        const deauthorized = await registered('host-d');
        await db.execute(`UPDATE hosts SET state = 'unauthorized', generation = 2 WHERE id = 'host-d'`);
        const refused = await post((await renewal('host-d', deauthorized)).body, { path: '/v1/renew' });
        assert.equal(refused.status, 403);
        assert.match(errorOf(refused).message, /^the host has been deauthorized: register the host again with a join token made for it/);

        const gone = await registered('host-g');
        await db.execute(`DELETE FROM hosts WHERE id = 'host-g'`);
        await db.execute(`INSERT INTO decommissioned_hosts (host_id, decommissioned_ms) VALUES ('host-g', 1)`);
        const decommissioned = await post((await renewal('host-g', gone)).body, { path: '/v1/renew' });
        assert.equal(decommissioned.status, 403);
        assert.match(errorOf(decommissioned).message, /^the host has been decommissioned/);
      });

      it('issues a certificate for the new key to the holder of the current one, and records it in its place', async () => {
        const current = await registered('host-a');
        const { body, keyPem } = await renewal('host-a', current);
        const answer = await post(body, { path: '/v1/renew' });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.headers.get('cache-control'), 'no-store');
        const result = answer.body as unknown as HostRenewResult;
        const { ca } = await loadPlanePki(dataDir);
        assert.deepEqual(Object.keys(result).sort(), ['caCertificate', 'certificate', 'hostId', 'planeBrokerUser']);
        assert.equal(result.planeBrokerUser, 'plane', "the plane's broker user, for hosts registered before it was said at join");
        assert.equal(result.hostId, 'host-a');
        assert.equal(result.caCertificate, ca.certPem);
        assert.ok(isSignedBy(result.certificate, ca.certPem));
        assert.ok(keyMatchesCert(keyPem, result.certificate), 'for the new key');
        assert.equal(hostIdOfCert(result.certificate), 'host-a');
        assert.equal((await repository.findCertificate('host-a'))?.serial, certificateFacts(result.certificate).serial);
        assert.deepEqual(broker.calls, ['host-a'], 'the broker user is left as it is');
        assert.deepEqual(await revokedSerials(), [certificateFacts(current.certificate).serial], 'the replaced certificate is revoked');
        assert.deepEqual(await revokedReasons(), [x509.X509CrlReason.superseded], 'as superseded: its open connections may finish');

        // The superseded certificate renews nothing any more; the new one does.
        const again = await post((await renewal('host-a', current)).body, { path: '/v1/renew' });
        assert.equal(again.status, 403);
        assert.match(errorOf(again).message, /not the one the plane last issued to this host: register the host again with a join token made for it \(hostplane join-token create --host host-a\)/);
        const next = await post((await renewal('host-a', { keyPem, certificate: result.certificate })).body, { path: '/v1/renew' });
        assert.equal(next.status, 200);
      });

      it('refuses, with 403 and the host left as it was: another key, another host, another CA, an expired certificate', async () => {
        const current = await registered('host-a');
        const other = await registered('host-b');
        const serial = (await repository.findCertificate('host-a'))?.serial;

        const wrongKey = await post((await renewal('host-a', current, other.keyPem)).body, { path: '/v1/renew' });
        assert.equal(wrongKey.status, 403);
        assert.match(errorOf(wrongKey).message, /the proof is not the certificate key's signature/);

        // host-b's own certificate and key, asking for host-a.
        const takeover = await renewal('host-a', other);
        const asOther = await post(takeover.body, { path: '/v1/renew' });
        assert.equal(asOther.status, 403);
        assert.match(errorOf(asOther).message, /names another host/);

        const rogueCa = await createCa({ commonName: 'rogue' });
        const rogueKey = await createHostKeyAndCsr('host-a');
        const rogue = { keyPem: rogueKey.keyPem, certificate: await signHostCsr(rogueCa, rogueKey.csrPem, 'host-a') };
        const foreign = await post((await renewal('host-a', rogue)).body, { path: '/v1/renew' });
        assert.equal(foreign.status, 403);
        assert.match(errorOf(foreign).message, /not signed by the plane's CA/);

        const later = await renewal('host-a', current);
        now = certificateFacts(current.certificate).notAfter.getTime() + 1;
        const expired = await post(later.body, { path: '/v1/renew' });
        assert.equal(expired.status, 403);
        assert.match(errorOf(expired).message, /expired/);

        assert.equal((await repository.findCertificate('host-a'))?.serial, serial);
      });

      it('refuses a request whose CSR names another host with 400, and bodies that are not a renewal', async () => {
        const current = await registered('host-a');
        const other = await createHostKeyAndCsr('host-b');
        const namesOther = await post({ hostId: 'host-a', certificate: current.certificate, csr: other.csrPem, proof: signRenewalProof(current.keyPem, current.certificate, other.csrPem) }, { path: '/v1/renew' });
        assert.equal(namesOther.status, 400);
        assert.match(errorOf(namesOther).message, /names host "host-b"/);
        const { body } = await renewal('host-a', current);
        const missing = await post({ hostId: 'host-a' }, { path: '/v1/renew' });
        assert.equal(missing.status, 400);
        assert.deepEqual((errorOf(missing).details as { path: string }[]).map((d) => d.path).sort(), ['certificate', 'csr', 'proof']);
        assert.equal((await post({ ...body, token: 'x' }, { path: '/v1/renew' })).status, 400);
        assert.equal((await post({ ...body, proof: 'not base64!' }, { path: '/v1/renew' })).status, 400);
        assert.equal((await post(body, { path: '/v1/renew' })).status, 200, 'none of those renewed the certificate');
      });

      it('answers a repeated request (its answer was lost) with the certificate it issued, and nothing else from the superseded certificate', async () => {
        const current = await registered('host-a');
        const { body } = await renewal('host-a', current);
        const first = await post(body, { path: '/v1/renew' });
        assert.equal(first.status, 200);
        const again = await post(body, { path: '/v1/renew' });
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal((again.body as unknown as HostRenewResult).certificate, (first.body as unknown as HostRenewResult).certificate);
        assert.equal((await repository.findCertificate('host-a'))?.serial, certificateFacts((first.body as unknown as HostRenewResult).certificate).serial);
        // Another new key with the superseded certificate is refused.
        const other = await post((await renewal('host-a', current)).body, { path: '/v1/renew' });
        assert.equal(other.status, 403);
      });

      it('writes the CRL again when writing it failed', async (t) => {
        const retrying = new JoinService(repository, new PlanePkiSource({ dataDir }), broker, quiet, { now: () => now }, { ms: 20 });
        t.after(() => retrying.stop());
        const crlFile = join(dataDir, 'pki/hosts.crl');
        await rm(crlFile, { force: true });
        await mkdir(crlFile); // a directory where the file goes: the write fails
        const current = await registered('host-a');
        const next = await createHostKeyAndCsr('host-a');
        await retrying.renew({ hostId: 'host-a', certificate: current.certificate, csr: next.csrPem, proof: signRenewalProof(current.keyPem, current.certificate, next.csrPem) });
        await rm(crlFile, { recursive: true });
        await waitFor('the CRL written on a later try', async () => (await readFile(crlFile, 'utf8').catch(() => '')).startsWith('-----BEGIN X509 CRL-----'));
        assert.deepEqual(await revokedSerials(), [certificateFacts(current.certificate).serial]);
      });

      it('answers the same request sent twice at once with one certificate, twice', async () => {
        const current = await registered('host-a');
        const { body } = await renewal('host-a', current);
        const answers = await Promise.all([post(body, { path: '/v1/renew' }), post(body, { path: '/v1/renew' })]);
        assert.deepEqual(answers.map((a) => a.status), [200, 200]);
        assert.equal(answers[0].body.certificate, answers[1].body.certificate);
        assert.deepEqual(await revokedSerials(), [certificateFacts(current.certificate).serial]);
      });

      it('lets one of two simultaneous renewals with one certificate through', async () => {
        const current = await registered('host-a');
        const answers = await Promise.all([renewal('host-a', current), renewal('host-a', current)].map(async (r) => post((await r).body, { path: '/v1/renew' })));
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 403]);
      });
    });

    it('refuses bodies that are not a join request', async () => {
      const { body } = await joinRequest('host-a');
      const missing = await post({ token: body.token });
      assert.equal(missing.status, 400);
      assert.equal(errorOf(missing).code, 'VALIDATION_FAILED');
      const paths = (errorOf(missing).details as { path: string }[]).map((d) => d.path).sort();
      assert.deepEqual(paths, ['csr', 'hostId', 'hostname']);
      const extra = await post({ ...body, admin: true });
      assert.equal(extra.status, 400);
      assert.match(errorOf(extra).message, /admin/);
      const badId = await post({ ...body, hostId: 'a.b' });
      assert.equal(badId.status, 400);
      assert.equal((await post(null, { raw: '{"token":' })).status, 400);
      assert.equal((await post(null, { raw: '[]' })).status, 400);
      assert.equal((await post(body, { contentType: 'text/plain' })).status, 415);
      const large = await post(null, { raw: JSON.stringify({ ...body, csr: 'x'.repeat(70 * 1024) }) });
      assert.equal(large.status, 413);
      const otherPath = await post(body, { path: '/v1/hosts' });
      assert.equal(otherPath.status, 404);
      assert.equal(errorOf(otherPath).code, 'NOT_FOUND');
      const get = await post(undefined, { method: 'GET' });
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      assert.equal((await post(body)).status, 200, 'none of those spent the token');
    });
  });
});

describe('join tokens', () => {
  /** A token service over a fresh SQLite database, its clock stopped at `now`. */
  async function tokensAt(now: number): Promise<{ db: SqliteDatabase; repository: JoinRepository; service: JoinTokensService }> {
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    const repository = new JoinRepository(db);
    return { db, repository, service: new JoinTokensService(repository, quiet, { now: () => now }) };
  }

  it('are 32 random bytes in base64url, kept only as sha256, valid 24 h by default', async () => {
    const { db, service } = await tokensAt(Date.parse('2030-01-01T00:00:00Z'));
    const view = await service.create({});
    assert.match(view.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(view.token, 'base64url').length, 32);
    assert.equal(view.expiresAt, '2030-01-02T00:00:00.000Z');
    const rows = await db.query<{ token_hash: string }>('SELECT token_hash FROM join_tokens');
    assert.deepEqual(rows.map((r) => r.token_hash), [hashJoinToken(view.token)]);
    assert.match(rows[0].token_hash, /^[0-9a-f]{64}$/);
    assert.equal((await service.create({ ttlS: 90 })).expiresAt, '2030-01-01T00:01:30.000Z');
    assert.notEqual((await service.create({})).token, view.token);
    await db.close();
  });

  it('may be made for one host id, which is kept with the hash and echoed', async () => {
    const { db, repository, service } = await tokensAt(Date.parse('2030-01-01T00:00:00Z'));
    const bound = await service.create({ hostId: 'host-a' });
    assert.deepEqual(Object.keys(bound).sort(), ['expiresAt', 'hostId', 'token']);
    assert.equal(bound.hostId, 'host-a');
    assert.equal((await repository.findToken(hashJoinToken(bound.token)))?.hostId, 'host-a');
    const unbound = await service.create({});
    assert.deepEqual(Object.keys(unbound).sort(), ['expiresAt', 'token'], 'no hostId when the token is for any new host');
    assert.equal((await repository.findToken(hashJoinToken(unbound.token)))?.hostId, null);
    await db.close();
  });

  it('made before they could be bound to a host stay usable by any new host after the upgrade', async () => {
    const db = new SqliteDatabase(':memory:');
    await migrate(db, MIGRATIONS.filter((m) => m.version < 3));
    await db.execute('INSERT INTO join_tokens (token_hash, created_ms, expires_ms) VALUES ($1, $2, $3)', ['old', 1, 2]);
    assert.deepEqual(await migrate(db, MIGRATIONS.filter((m) => m.version <= 3)), [3]);
    const repository = new JoinRepository(db);
    assert.deepEqual(await repository.findToken('old'), { tokenHash: 'old', createdMs: 1, expiresMs: 2, usedMs: null, usedBy: null, hostId: null });
    await db.close();
  });

  it('expired a month ago are forgotten when a new one is made', async () => {
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    const repository = new JoinRepository(db);
    let now = Date.parse('2030-01-01T00:00:00Z');
    const service = new JoinTokensService(repository, quiet, { now: () => now });
    const old = await service.create({ ttlS: 60 });
    now += 31 * 24 * 60 * 60 * 1000;
    await service.create({});
    assert.equal(await repository.findToken(hashJoinToken(old.token)), null);
    assert.equal((await db.query('SELECT * FROM join_tokens')).length, 1);
    await db.close();
  });
});
