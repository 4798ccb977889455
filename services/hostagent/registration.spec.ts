import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import type { HostJoinRequest, HostJoinResult, HostRenewRequest, HostRenewResult } from '#contracts';
import { certificateFacts, createCa, createHostKeyAndCsr, hostIdOfCert, isSignedBy, keyMatchesCert, signHostCsr, verifyRenewalProof, type CertifiedKey } from '#pki';
import { renewalDueAt, renewalMayRecover, renewIfDue } from './certificate-renewal';
import { ensureRegistered, hostCertificateFiles, pendingRenewalFiles, readPlaneFacts, RegistrationError } from './registration';

const TOKEN = 'Xq3v2bS0aZk8m1YpVtL4cN7rUe5wD9gHjQfE6iOoPsA';
const DAY_MS = 24 * 60 * 60 * 1000;

type Reply = { status: number; body: unknown };
type Responder = (request: HostJoinRequest) => Promise<Reply>;
type RenewResponder = (request: HostRenewRequest) => Promise<Reply>;

/** A join endpoint that signs what it is sent with a test CA, unless told to answer otherwise. */
class FakeJoinServer {
  readonly requests: { path: string; contentType: string | undefined; body: string }[] = [];
  respond: Responder;
  /** Renewals: the proof checked against the certificate sent, the CSR signed. */
  renew: RenewResponder = async (request) => {
    if (!verifyRenewalProof(request.certificate, request.csr, request.proof)) return { status: 403, body: { error: { code: 'FORBIDDEN', message: 'bad proof' } } };
    const result: HostRenewResult = { hostId: request.hostId, certificate: await signHostCsr(this.ca, request.csr, request.hostId), caCertificate: this.ca.certPem, planeBrokerUser: 'plane' };
    return { status: 200, body: result };
  };
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly ca: CertifiedKey,
  ) {
    this.respond = this.sign({ username: 'pf9-host-h', password: 'pw' });
  }

  static async start(ca: CertifiedKey): Promise<FakeJoinServer> {
    let fake: FakeJoinServer | undefined;
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      fake?.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      const answer = (): Promise<Reply> => (req.url === '/v1/renew' ? fake!.renew(JSON.parse(body) as HostRenewRequest) : fake!.respond(JSON.parse(body) as HostJoinRequest));
      const reply = fake ? await answer().catch((err: Error) => ({ status: 500, body: { error: { code: 'INTERNAL', message: err.message } } })) : { status: 500, body: null };
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeJoinServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ca);
    return fake;
  }

  /** Signs the request's CSR; `asHost` signs a CSR of its own for that host instead. */
  sign(broker: HostJoinResult['broker'], options: { validityDays?: number; asHost?: string; ca?: CertifiedKey } = {}): Responder {
    return async (request) => {
      const csr = options.asHost === undefined ? request.csr : (await createHostKeyAndCsr(options.asHost)).csrPem;
      const certificate = await signHostCsr(options.ca ?? this.ca, csr, options.asHost ?? request.hostId, { validityDays: options.validityDays });
      const result: HostJoinResult = { hostId: request.hostId, certificate, caCertificate: this.ca.certPem, broker, planeBrokerUser: 'plane' };
      return { status: 200, body: result };
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('host registration', () => {
  let ca: CertifiedKey;
  let server: FakeJoinServer;
  let root: string;

  before(async () => {
    ca = await createCa({ commonName: 'test plane' });
  });
  beforeEach(async () => {
    server = await FakeJoinServer.start(ca);
    root = await mkdtemp(join(tmpdir(), 'registration-'));
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  function register(overrides: Partial<Parameters<typeof ensureRegistered>[0]> = {}) {
    return ensureRegistered({ root, hostId: 'h', hostname: 'h.example', joinUrl: `${server.url}/`, token: TOKEN, ...overrides });
  }

  it('joins with a CSR made here and writes the key, the certificate, the CA and broker.json', async () => {
    const outcome = await register();
    assert.equal(outcome.registered, true);
    const files = hostCertificateFiles(root);
    assert.deepEqual(outcome.files, files);
    assert.equal(files.cert, join(root, 'etc/pf9/certs/host.crt'));

    assert.equal(server.requests.length, 1);
    const sent = server.requests[0];
    assert.equal(sent.path, '/v1/join');
    assert.equal(sent.contentType, 'application/json');
    const request = JSON.parse(sent.body) as HostJoinRequest;
    assert.deepEqual(Object.keys(request).sort(), ['csr', 'hostId', 'hostname', 'token']);
    assert.deepEqual([request.token, request.hostId, request.hostname], [TOKEN, 'h', 'h.example']);
    assert.doesNotMatch(sent.body, /PRIVATE KEY/, 'the private key never leaves the host');

    const [keyPem, certPem, caPem] = await Promise.all([files.key, files.cert, files.caCert].map((f) => readFile(f, 'utf8')));
    assert.ok(keyMatchesCert(keyPem, certPem));
    assert.equal(hostIdOfCert(certPem), 'h');
    assert.equal(caPem, ca.certPem);
    assert.ok(isSignedBy(certPem, caPem));
    assert.deepEqual(JSON.parse(await readFile(files.broker, 'utf8')), { username: 'pf9-host-h', password: 'pw' });
    assert.deepEqual(await readPlaneFacts(files), { brokerUser: 'plane' }, "the plane's broker user, the only sender of control messages, is kept");
    assert.equal(await modeOf(files.key), 0o600);
    assert.equal(await modeOf(files.broker), 0o600);
    assert.equal(await modeOf(files.cert), 0o644);
    assert.equal(await modeOf(files.dir), 0o700);
  });

  it('writes every PEM file with a final newline, even when the plane sent its PEM without one', async () => {
    server.respond = async (request) => {
      const certificate = (await signHostCsr(ca, request.csr, request.hostId)).trimEnd();
      const result: HostJoinResult = { hostId: request.hostId, certificate, caCertificate: ca.certPem.trimEnd(), broker: null, planeBrokerUser: 'plane' };
      return { status: 200, body: result };
    };
    await register();
    const files = hostCertificateFiles(root);
    for (const file of [files.cert, files.key, files.caCert]) assert.match(await readFile(file, 'utf8'), /-----\n$/, `${file} ends with a newline`);
    const both = (await readFile(files.cert, 'utf8')) + (await readFile(files.key, 'utf8'));
    assert.equal(both.match(/^-----BEGIN [A-Z ]+-----$/gm)?.length, 2, '`cat host.crt host.key` keeps both BEGIN lines whole');
  });

  it("gives pf9-comms's user the key, the certificates and their folder (made 0755 by hand, the CA in it), closed to all others; broker.json stays the agent's; so do renewals", async () => {
    assert.equal(process.geteuid?.(), 0, "giving files to pf9-comms's user needs root: run this test as root");
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
    const comms = { uid: id('-u'), gid: id('-g') };
    const files = hostCertificateFiles(root);
    await mkdir(files.dir, { recursive: true, mode: 0o755 });
    await chmod(files.dir, 0o755);
    await writeFile(files.caCert, ca.certPem, { mode: 0o644 });
    const options = { token: TOKEN, commsOwner: comms };
    assert.equal((await register(options)).registered, true);
    const owned = async (path: string): Promise<[number, number, number]> => {
      const info = await stat(path);
      return [info.uid, info.gid, info.mode & 0o7777];
    };
    assert.deepEqual(await owned(files.dir), [comms.uid, comms.gid, 0o700]);
    assert.deepEqual(await owned(files.key), [comms.uid, comms.gid, 0o600]);
    assert.deepEqual(await owned(files.cert), [comms.uid, comms.gid, 0o644]);
    assert.deepEqual(await owned(files.caCert), [comms.uid, comms.gid, 0o644]);
    assert.deepEqual(await owned(files.broker), [0, 0, 0o600]);

    const renewal = { renewBeforeDays: 400, commsOwner: comms };
    assert.equal((await renewIfDue({ root, hostId: 'h', joinUrl: server.url, ...renewal })).state, 'renewed');
    assert.deepEqual(await owned(files.key), [comms.uid, comms.gid, 0o600]);
    assert.deepEqual(await owned(files.cert), [comms.uid, comms.gid, 0o644]);
    assert.deepEqual((await readdir(files.dir)).sort(), ['ca.crt', 'host.crt', 'host.key']);
  });

  it('keeps a valid certificate and asks nothing, even without a token', async () => {
    await register();
    const again = await register({ token: undefined });
    assert.equal(again.registered, false);
    assert.equal(server.requests.length, 1);
  });

  it('joins again when the certificate has expired, names another host, or lost its key', async () => {
    server.respond = server.sign(null, { validityDays: 30 });
    await register();
    const later = Date.now() + 31 * DAY_MS;
    assert.equal((await register({ clock: () => later })).registered, true, 'expired');
    assert.equal((await register({ hostId: 'other' })).registered, true, 'another host id');
    assert.equal(hostIdOfCert(await readFile(hostCertificateFiles(root).cert, 'utf8')), 'other');
    await writeFile(hostCertificateFiles(root).key, (await createHostKeyAndCsr('other')).keyPem);
    assert.equal((await register({ hostId: 'other' })).registered, true, 'key not matching');
    assert.equal(server.requests.length, 4);
  });

  it('without a certificate and without a token it says what to do, and sends nothing', async () => {
    for (const token of [undefined, '', '  ']) {
      await assert.rejects(register({ token }), (err: unknown) => {
        assert.ok(err instanceof RegistrationError);
        assert.match(err.message, /no usable certificate \(.*host\.crt is missing\) and no join token: create one on the plane with `hostplane join-token create`/);
        assert.match(err.message, /PF9_JOIN_TOKEN/);
        return true;
      });
    }
    assert.equal(server.requests.length, 0);
  });

  it('reports the plane refusing, and writes no certificate', async () => {
    server.respond = async () => ({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'the join token has been used already', details: [] } } });
    await assert.rejects(register(), (err: unknown) => {
      assert.ok(err instanceof RegistrationError);
      assert.equal(err.status, 403);
      assert.equal(err.code, 'FORBIDDEN');
      assert.equal(err.message, 'the plane refused to register this host: FORBIDDEN: the join token has been used already');
      return true;
    });
    await assert.rejects(stat(hostCertificateFiles(root).cert), /ENOENT/);
  });

  it('refuses an answer that is not a certificate for this host and this key', async () => {
    server.respond = server.sign(null, { asHost: 'someone-else' });
    await assert.rejects(register(), /the certificate does not name this host; the certificate is not for this host's key/);
    const rogue = await createCa({ commonName: 'rogue' });
    server.respond = server.sign(null, { ca: rogue });
    await assert.rejects(register(), /the certificate is not signed by the CA sent with it/);
    server.respond = async () => ({ status: 200, body: { hostId: 'h', certificate: 42 } });
    await assert.rejects(register(), /did not answer with a join result/);
    await assert.rejects(stat(hostCertificateFiles(root).cert), /ENOENT/);
  });

  it('writes no broker.json when hosts use the shared broker credentials', async () => {
    server.respond = server.sign(null);
    await register();
    await assert.rejects(stat(hostCertificateFiles(root).broker), /ENOENT/);
  });

  it('says so when the join endpoint cannot be reached', async () => {
    const url = server.url;
    await server.close();
    server = await FakeJoinServer.start(ca);
    await assert.rejects(register({ joinUrl: url }), /cannot reach the plane's join endpoint at http:\/\/127\.0\.0\.1:\d+\/v1\/join: ECONNREFUSED/);
  });

  it('uses the fetch it is given', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      seen.push(String(input));
      const request = JSON.parse(String(init?.body)) as HostJoinRequest;
      const reply = await server.sign(null)(request);
      return new Response(JSON.stringify(reply.body), { status: reply.status, headers: { 'content-type': 'application/json' } });
    };
    await mkdir(join(root, 'etc'), { recursive: true });
    const outcome = await register({ joinUrl: 'https://plane.invalid:9443', fetch: fakeFetch });
    assert.equal(outcome.registered, true);
    assert.deepEqual(seen, ['https://plane.invalid:9443/v1/join']);
    assert.equal(server.requests.length, 0);
  });

  describe('renewal', () => {
    function renew(overrides: Partial<Parameters<typeof renewIfDue>[0]> = {}) {
      return renewIfDue({ root, hostId: 'h', joinUrl: server.url, ...overrides });
    }
    const readPair = async (): Promise<{ key: string; cert: string }> => {
      const files = hostCertificateFiles(root);
      return { key: await readFile(files.key, 'utf8'), cert: await readFile(files.cert, 'utf8') };
    };

    it('is due once a third of the lifetime is left, or PF9_CERT_RENEW_BEFORE_DAYS', () => {
      const from = new Date('2030-01-01T00:00:00Z');
      const to = new Date('2030-04-01T00:00:00Z'); // 90 days
      assert.equal(renewalDueAt(from, to).toISOString(), '2030-03-02T00:00:00.000Z');
      assert.equal(renewalDueAt(from, to, 10).toISOString(), '2030-03-22T00:00:00.000Z');
    });

    it('asks nothing before it is due, and nothing without a certificate', async () => {
      assert.equal((await renew()).state, 'no-certificate');
      await register();
      const outcome = await renew();
      assert.equal(outcome.state, 'not-due');
      assert.equal(server.requests.length, 1, 'the join only');
    });

    it('when due, gets a certificate for a new key with a proof made by the current one, and puts both in place', async () => {
      await register();
      const before = await readPair();
      await rm(hostCertificateFiles(root).plane, { force: true });
      const outcome = await renew({ renewBeforeDays: 400 });
      assert.equal(outcome.state, 'renewed');
      assert.deepEqual(await readPlaneFacts(hostCertificateFiles(root)), { brokerUser: 'plane' }, 'a renewal tells a host registered before which broker user the plane is');
      const sent = server.requests[1];
      assert.equal(sent.path, '/v1/renew');
      const request = JSON.parse(sent.body) as HostRenewRequest;
      assert.deepEqual(Object.keys(request).sort(), ['certificate', 'csr', 'hostId', 'proof']);
      assert.equal(request.certificate, before.cert);
      assert.ok(verifyRenewalProof(before.cert, request.csr, request.proof));
      assert.doesNotMatch(sent.body, /PRIVATE KEY/);

      const after = await readPair();
      assert.notEqual(after.key, before.key, 'a new key');
      assert.ok(keyMatchesCert(after.key, after.cert));
      assert.equal(hostIdOfCert(after.cert), 'h');
      assert.ok(outcome.state === 'renewed' && outcome.serial === certificateFacts(after.cert).serial && outcome.previousSerial === certificateFacts(before.cert).serial);
      assert.equal(await modeOf(hostCertificateFiles(root).key), 0o600);
      const pending = pendingRenewalFiles(hostCertificateFiles(root));
      await assert.rejects(stat(pending.key), /ENOENT/);
      await assert.rejects(stat(pending.cert), /ENOENT/);
      assert.equal((await register({ token: undefined })).registered, false, 'the renewed pair is a usable certificate');
    });

    it('a refusal is final and leaves the current pair in place; an unreachable plane may recover', async () => {
      await register();
      const before = await readPair();
      server.renew = async () => ({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'the certificate is not the one the plane last issued to this host', details: [] } } });
      const refused = await renew({ renewBeforeDays: 400 }).catch((err: unknown) => err);
      assert.ok(refused instanceof RegistrationError);
      assert.equal(refused.message, 'the plane refused to renew the host certificate: FORBIDDEN: the certificate is not the one the plane last issued to this host');
      assert.equal(renewalMayRecover(refused), false);
      assert.deepEqual(await readPair(), before);

      const pending = pendingRenewalFiles(hostCertificateFiles(root));
      await assert.rejects(stat(pending.csr), /ENOENT/, 'a refused request is not sent again');

      const unreachable = await renew({ renewBeforeDays: 400, joinUrl: 'http://127.0.0.1:1' }).catch((err: unknown) => err);
      assert.match(String(unreachable), /cannot reach the plane's join endpoint/);
      assert.equal(renewalMayRecover(unreachable), true);
      server.renew = async () => ({ status: 200, body: { hostId: 'h', certificate: 'x' } });
      await assert.rejects(renew({ renewBeforeDays: 400 }), /did not answer with a renewal result/);
      assert.deepEqual(await readPair(), before);
    });

    it('a request whose answer did not come is sent again as it was, and its certificate taken', async () => {
      await register();
      const before = await readPair();
      const issued: string[] = [];
      server.renew = async (request) => {
        issued.push(request.csr);
        return { status: 504, body: { error: { code: 'GATEWAY_TIMEOUT', message: 'no answer', details: [] } } };
      };
      await assert.rejects(renew({ renewBeforeDays: 400 }), (err: unknown) => err instanceof RegistrationError && renewalMayRecover(err));
      assert.deepEqual(await readPair(), before);
      server.renew = async (request) => {
        issued.push(request.csr);
        const certificate = await signHostCsr(ca, request.csr, 'h');
        return { status: 200, body: { hostId: 'h', certificate, caCertificate: ca.certPem } };
      };
      assert.equal((await renew({ renewBeforeDays: 400 })).state, 'renewed');
      assert.equal(issued.length, 2);
      assert.equal(issued[1], issued[0], 'the same request, for the same new key');
      const after = await readPair();
      assert.ok(keyMatchesCert(after.key, after.cert));
      await assert.rejects(stat(pendingRenewalFiles(hostCertificateFiles(root)).csr), /ENOENT/);
    });

    it('refuses a renewed certificate from a CA other than the one this host trusts', async () => {
      await register();
      const before = await readPair();
      const rogue = await createCa({ commonName: 'rogue' });
      server.renew = async (request) => ({ status: 200, body: { hostId: 'h', certificate: await signHostCsr(rogue, request.csr, 'h'), caCertificate: rogue.certPem } });
      await assert.rejects(renew({ renewBeforeDays: 400 }), /not signed by the CA this host trusts/);
      assert.deepEqual(await readPair(), before);
      assert.equal(await readFile(hostCertificateFiles(root).caCert, 'utf8'), ca.certPem);
    });

    describe('when the clocks of host and plane differ', () => {
      const HOUR_MS = 60 * 60 * 1000;
      /** Checks `times` times an hour apart from `from` on; answers the states seen. */
      async function checkHourly(clock: { now: number }, times: number): Promise<string[]> {
        const states: string[] = [];
        for (let i = 0; i < times; i++) {
          clock.now += HOUR_MS;
          states.push((await renew({ clock: () => clock.now })).state);
        }
        return states;
      }

      it('a host whose clock runs months ahead does not renew its fresh certificate at every check, and renews it when it is really due', async () => {
        // 300 days ahead: by the host's clock alone a fresh 365-day certificate is past two thirds of its life.
        const clock = { now: Date.now() + 300 * DAY_MS };
        await register({ clock: () => clock.now });
        const states = await checkHourly(clock, 48);
        assert.deepEqual(new Set(states), new Set(['not-due']), 'two days of hourly checks renew nothing');
        assert.equal(server.requests.length, 1, 'the join only');

        // 245 days on (the plane's certificate has a third of its life left): due, renewed once, then quiet again.
        clock.now += 245 * DAY_MS;
        assert.equal((await renew({ clock: () => clock.now })).state, 'renewed');
        assert.deepEqual(new Set(await checkHourly(clock, 24)), new Set(['not-due']));
        assert.deepEqual(server.requests.map((r) => r.path), ['/v1/join', '/v1/renew']);
      });

      it('a host whose clock runs months behind renews when the plane would, not months late', async () => {
        const clock = { now: Date.now() - 200 * DAY_MS };
        await register({ clock: () => clock.now });
        clock.now += 240 * DAY_MS;
        assert.equal((await renew({ clock: () => clock.now })).state, 'not-due');
        clock.now += 5 * DAY_MS;
        assert.equal((await renew({ clock: () => clock.now })).state, 'renewed', 'due at two thirds of its life by the plane, though the host sees it as 45 days old');
      });

      it('a certificate that looks expired by a clock more than its lifetime ahead is kept, not thrown away for a new join', async () => {
        const clock = { now: Date.now() + 400 * DAY_MS };
        await register({ clock: () => clock.now });
        assert.equal((await register({ token: undefined, clock: () => clock.now + HOUR_MS })).registered, false);
        assert.equal((await renew({ clock: () => clock.now + HOUR_MS })).state, 'not-due');
      });

      it('once the clock is set back right, the certificate is judged by it again', async () => {
        const clock = { now: Date.now() + 300 * DAY_MS };
        await register({ clock: () => clock.now });
        clock.now = Date.now() + 200 * DAY_MS; // set right (and 200 days pass)
        assert.equal((await renew({ clock: () => clock.now })).state, 'not-due');
        clock.now += 45 * DAY_MS;
        assert.equal((await renew({ clock: () => clock.now })).state, 'renewed');
      });
    });

    it('an agent stopped between moving the new key and the new certificate in place finishes on its next start', async () => {
      await register();
      const files = hostCertificateFiles(root);
      const pending = pendingRenewalFiles(files);
      const next = await createHostKeyAndCsr('h');
      const nextCert = await signHostCsr(ca, next.csrPem, 'h');
      // Stopped after the key went in: key and certificate do not match.
      await writeFile(files.key, next.keyPem);
      await writeFile(pending.cert, nextCert);
      assert.equal((await register({ token: undefined })).registered, false, 'no join token needed');
      assert.deepEqual(await readPair(), { key: next.keyPem, cert: nextCert });
      await assert.rejects(stat(pending.cert), /ENOENT/);

      // Stopped before: both new files beside the current pair.
      const third = await createHostKeyAndCsr('h');
      const thirdCert = await signHostCsr(ca, third.csrPem, 'h');
      await writeFile(pending.key, third.keyPem);
      await writeFile(pending.cert, thirdCert);
      assert.equal((await renew()).state, 'not-due');
      assert.deepEqual(await readPair(), { key: third.keyPem, cert: thirdCert });
      assert.equal(server.requests.length, 1);
    });
  });
});
