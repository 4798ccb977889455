import { Injectable, Optional } from '@nestjs/common';
import { ErrorCodes, type HostJoinRequest, type HostJoinResult, type HostRenewRequest, type HostRenewResult } from '#contracts';
import { ApplicationError } from '#amqp';
import { Logger } from '#logging';
import { certificateFacts, certificateIsForCsr, createCrl, hostIdOfCert, isSignedBy, PkiError, signHostCsr, verifyRenewalProof, writeFileAtomic, type CertifiedKey } from '#pki';
import { Clock } from '../core/clock';
import { BrokerAccounts } from './broker-accounts';
import { JoinRepository, type HostCertificate, type HostStanding, type JoinToken } from './join.repository';
import { hashJoinToken } from './join-tokens.service';
import { JoinUnavailableError, PlanePkiSource } from './plane-pki.source';

/** How long after a failed CRL write it is tried again. */
export class CrlRetry {
  ms = 30_000;
}

/**
 * Registration: a host that holds a valid join token gets a certificate for the host id it
 * claims, and, where the plane gives hosts their own broker users, its credentials. Joining
 * does not authorize the host: it is listed unauthorized until an operator authorizes it.
 * A token made for one host id (`hostplane join-token create --host <id>`) serves that id
 * only. A host id the plane has issued a certificate to joins again only with a token made
 * for it, which gets it a new certificate: an ordinary token claims new host ids, never
 * takes over a registered one.
 *
 * Renewal: a host holding the certificate the plane last issued to it, still valid, gets a
 * new one for a new key by signing the new request with the current key. No token: the
 * proof and the record of the current serial are the authentication, and a superseded or
 * foreign certificate renews nothing, except to repeat the answer to the request that
 * superseded it (same certificate, same new key) when that answer was lost.
 */
@Injectable()
export class JoinService {
  private readonly logger: Logger;
  /** CRL writes, one after the other. */
  private crlWrites: Promise<void> = Promise.resolve();
  /** A CRL write that failed is tried again on this timer. */
  private crlRetry: NodeJS.Timeout | null = null;
  private stopped = false;

  private readonly crlRetryMs: number;

  constructor(
    private readonly repository: JoinRepository,
    private readonly pki: PlanePkiSource,
    private readonly brokerAccounts: BrokerAccounts,
    logger: Logger,
    private readonly clock: Clock,
    @Optional() crlRetry: CrlRetry = new CrlRetry(),
  ) {
    this.logger = logger.child({ component: 'join' });
    this.crlRetryMs = crlRetry.ms;
  }

  /** No more CRL retries (the role store is stopping). */
  stop(): void {
    this.stopped = true;
    if (this.crlRetry) clearTimeout(this.crlRetry);
    this.crlRetry = null;
  }

  async join(request: HostJoinRequest): Promise<HostJoinResult> {
    const { hostId } = request;
    const ca = await this.pki.ca();
    // A plane setting, not the host's fault: 503, and the host tries again later.
    const refusal = this.brokerAccounts.joinRefusal();
    if (refusal !== null) {
      this.logger.error('join refused: no broker identity to give the host', { hostId, reason: refusal });
      throw new JoinUnavailableError(refusal);
    }
    const tokenHash = hashJoinToken(request.token);
    // Checked before the CSR is even looked at: without a valid token for this host id there is
    // nothing to learn here, and a refusal leaves the token unused.
    const token = await this.repository.findToken(tokenHash);
    this.assertUsable(token, hostId);
    await this.assertMayClaim(token, hostId);
    const certificate = await this.sign(ca, request.csr, hostId, 'join refused');
    const now = this.clock.now();
    const consumed = await this.repository.consumeToken(tokenHash, hostId, token.hostId === null, now);
    // Another join took the token (or it expired), or another join with another token took the host id, since they were checked.
    if (consumed === 'host-taken') throw this.alreadyRegistered(hostId);
    if (consumed === 'token-gone') {
      this.assertUsable(await this.repository.findToken(tokenHash), hostId);
      throw this.refuse(hostId, 'the join token cannot be used');
    }
    let broker: HostJoinResult['broker'];
    try {
      broker = await this.brokerAccounts.ensureHostUser(hostId);
    } catch (err) {
      // The host got nothing: its token stays good for another try.
      await this.repository.releaseToken(tokenHash, hostId);
      this.logger.error('join failed: no broker user', { hostId, err: err instanceof Error ? err.message : String(err) });
      throw new ApplicationError(ErrorCodes.internal, 'the plane could not create the host\'s broker user; try again with the same token');
    }
    const facts = certificateFacts(certificate);
    // A host joining again (with a token made for it) gives up the certificate it had, whichever that is by then.
    const revoked = await this.repository.transaction(async (tx) => {
      const count = await this.repository.revokeCurrentCertificate(tx, hostId, now, 'superseded');
      await this.repository.recordCertificate(tx, { hostId, serial: facts.serial, notAfterMs: facts.notAfter.getTime(), issuedMs: now });
      await this.repository.listHost(tx, hostId, request.hostname, now);
      await this.repository.clearDecommissioned(tx, hostId);
      return count;
    });
    if (revoked > 0) await this.publishRevocations();
    this.logger.info('host joined', { hostId, hostname: request.hostname, serial: facts.serial, notAfter: facts.notAfter.toISOString(), ownBrokerUser: broker !== null });
    if (broker === null) this.logger.warn('INSECURE: host joined without a broker user of its own: it shares one with other hosts (PF9_INSECURE_SHARED_BROKER_USER)', { hostId });
    return { hostId, certificate, caCertificate: ca.certPem, broker, planeBrokerUser: this.brokerAccounts.planeBrokerUser };
  }

  async renew(request: HostRenewRequest): Promise<HostRenewResult> {
    const { hostId } = request;
    const ca = await this.pki.ca();
    const now = this.clock.now();
    const current = this.currentCertificate(request.certificate, ca.certPem, hostId, now);
    if (!verifyRenewalProof(request.certificate, request.csr, request.proof)) {
      throw this.refuseRenewal(hostId, "the proof is not the certificate key's signature over the request");
    }
    const recorded = await this.repository.findCertificate(hostId);
    // A host the operators cut off (deauthorized, decommissioned) does not keep a way in past its certificate's end.
    const standing = renewalRefusal(await this.repository.standing(hostId));
    if (standing !== null) throw this.refuseRenewal(hostId, standing);
    const planeBrokerUser = this.brokerAccounts.planeBrokerUser;
    const repeated = this.repeatedRenewal(recorded, current.serial, request.csr);
    if (repeated !== undefined) return { hostId, certificate: repeated, caCertificate: ca.certPem, planeBrokerUser };
    if (recorded === null || recorded.serial !== current.serial) {
      throw this.refuseRenewal(hostId, 'the certificate is not the one the plane last issued to this host', { serial: current.serial });
    }
    const certificate = await this.sign(ca, request.csr, hostId, 'renewal refused');
    const facts = certificateFacts(certificate);
    const replaced = await this.repository.replaceCertificate(
      { serial: current.serial, notAfterMs: current.notAfter.getTime() },
      { hostId, serial: facts.serial, notAfterMs: facts.notAfter.getTime(), issuedMs: now },
      certificate,
    );
    if (!replaced) {
      // The same request, sent again while the first was under way, came first: its answer.
      const again = this.repeatedRenewal(await this.repository.findCertificate(hostId), current.serial, request.csr);
      if (again !== undefined) return { hostId, certificate: again, caCertificate: ca.certPem, planeBrokerUser };
      // Another renewal with the same certificate came first: this one's answer would be a second certificate.
      throw this.refuseRenewal(hostId, 'the certificate was renewed meanwhile', { serial: current.serial });
    }
    await this.publishRevocations();
    this.logger.info('host certificate renewed', { hostId, serial: facts.serial, previousSerial: current.serial, notAfter: facts.notAfter.toISOString() });
    return { hostId, certificate, caCertificate: ca.certPem, planeBrokerUser };
  }

  /**
   * The host's current certificate revoked (decommissioned), and the CRL written before this
   * resolves, so that the ingress closes its open connections at once. Answers whether there was one.
   */
  async revokeHost(hostId: string): Promise<boolean> {
    const revoked = await this.repository.transaction((tx) => this.repository.revokeCurrentCertificate(tx, hostId, this.clock.now(), 'cessationOfOperation'));
    await this.publishRevocations();
    if (revoked > 0) this.logger.info('host certificate revoked: the host is decommissioned', { hostId });
    return revoked > 0;
  }

  /**
   * The certificate a renewal from `presentedSerial` issued for the key of `csr`, when that
   * is what the record says happened last: the same request, whose answer was lost.
   */
  private repeatedRenewal(recorded: HostCertificate | null, presentedSerial: string, csr: string): string | undefined {
    if (recorded === null || recorded.serial === presentedSerial || recorded.previousSerial !== presentedSerial || !recorded.renewedCertificate) return undefined;
    if (!certificateIsForCsr(recorded.renewedCertificate, csr)) return undefined;
    this.logger.info('host certificate renewal repeated: the certificate issued for it sent again', { hostId: recorded.hostId, serial: recorded.serial });
    return recorded.renewedCertificate;
  }

  /**
   * Writes the list of revoked host certificates that have not expired (PF9_DATA_DIR/pki/hosts.crl,
   * signed by the CA) for the ingress, which refuses them from then on. Without a PKI there is
   * nothing to write; a failure is logged and tried again after crlRetryMs (30 s).
   */
  publishRevocations(): Promise<void> {
    this.crlWrites = this.crlWrites.then(async () => {
      try {
        const ca = await this.pki.ca();
        // Certificates are signed, and expire, in the system's time, whatever clock the service runs on.
        const revoked = await this.repository.listRevoked(Date.now());
        const pem = await createCrl(ca, revoked.map((entry) => ({ serial: entry.serial, revokedAt: new Date(entry.revokedMs), reason: entry.reason ?? 'superseded' })));
        await writeFileAtomic(this.pki.crlFile, pem, 0o644);
        this.logger.info('revoked host certificates published', { crlFile: this.pki.crlFile, revoked: revoked.length });
      } catch (err) {
        if (err instanceof JoinUnavailableError) return;
        this.logger.error('cannot publish the revoked host certificates; trying again', {
          crlFile: this.pki.crlFile,
          inMs: this.crlRetryMs,
          err: err instanceof Error ? err.message : String(err),
        });
        if (!this.stopped && this.crlRetry === null) {
          this.crlRetry = setTimeout(() => {
            this.crlRetry = null;
            void this.publishRevocations();
          }, this.crlRetryMs);
          this.crlRetry.unref();
        }
      }
    });
    return this.crlWrites;
  }

  /** The host's certificate for its CSR; a CSR that cannot be signed is the request's fault (400). */
  private async sign(ca: CertifiedKey, csr: string, hostId: string, refusal: string): Promise<string> {
    try {
      return await signHostCsr(ca, csr, hostId);
    } catch (err) {
      if (!(err instanceof PkiError)) throw err;
      this.logger.warn(refusal, { hostId, reason: err.message });
      throw new ApplicationError(ErrorCodes.validationFailed, `invalid csr: ${err.message}`, [{ path: 'csr', problems: [err.message] }]);
    }
  }

  /** The presented certificate, when it is one of this plane's, names the host and is valid now. */
  private currentCertificate(certPem: string, caCertPem: string, hostId: string, now: number): { serial: string; notAfter: Date } {
    let facts;
    try {
      facts = certificateFacts(certPem);
    } catch {
      throw this.refuseRenewal(hostId, 'the certificate cannot be parsed');
    }
    if (!isSignedBy(certPem, caCertPem)) throw this.refuseRenewal(hostId, "the certificate is not signed by the plane's CA");
    if (hostIdOfCert(certPem) !== hostId) throw this.refuseRenewal(hostId, 'the certificate names another host');
    if (facts.notAfter.getTime() <= now) throw this.refuseRenewal(hostId, `the certificate expired at ${facts.notAfter.toISOString()}`);
    if (facts.notBefore.getTime() > now) throw this.refuseRenewal(hostId, 'the certificate is not valid yet');
    return { serial: facts.serial, notAfter: facts.notAfter };
  }

  private refuseRenewal(hostId: string, reason: string, fields: Record<string, unknown> = {}): ApplicationError {
    this.logger.warn('renewal refused', { hostId, reason, ...fields });
    return new ApplicationError(ErrorCodes.forbidden, `${reason}: register the host again with a join token made for it (hostplane join-token create --host ${hostId})`);
  }

  private assertUsable(token: JoinToken | null, hostId: string): asserts token is JoinToken {
    if (token === null) throw this.refuse(hostId, 'the join token is not valid');
    if (token.usedMs !== null) throw this.refuse(hostId, 'the join token has been used already');
    if (token.expiresMs <= this.clock.now()) throw this.refuse(hostId, 'the join token has expired');
  }

  /** Whether this token may name this host id: the check that keeps one host from taking over another's identity. */
  private async assertMayClaim(token: JoinToken, hostId: string): Promise<void> {
    if (token.hostId !== null) {
      if (token.hostId !== hostId) throw this.refuse(hostId, 'the join token was made for another host');
      return;
    }
    if ((await this.repository.findCertificate(hostId)) !== null) throw this.alreadyRegistered(hostId);
  }

  private alreadyRegistered(hostId: string): ApplicationError {
    return this.refuse(hostId, `host ${hostId} is already registered`, `re-registering it needs a join token made for it (hostplane join-token create --host ${hostId})`);
  }

  private refuse(hostId: string, reason: string, remedy = 'ask an operator for a new one (hostplane join-token create)'): ApplicationError {
    this.logger.warn('join refused', { hostId, reason });
    return new ApplicationError(ErrorCodes.forbidden, `${reason}: ${remedy}`);
  }
}

/**
 * Why the host may not renew its certificate, or null: it must be known, not decommissioned,
 * and not deauthorized. An unauthorized host at generation 0 was never authorized (it waits
 * for an operator) and may; one above 0 was authorized and deauthorized since (authorize and
 * deauthorize each raise the generation, and nothing else can while it is unauthorized).
 */
function renewalRefusal(standing: HostStanding | null): string | null {
  if (standing === null || standing.decommissioned) return 'the host has been decommissioned';
  if (standing.state !== 'authorized' && standing.generation > 0) return 'the host has been deauthorized';
  return null;
}
