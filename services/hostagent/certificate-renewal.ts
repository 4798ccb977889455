import { promises as fs } from 'node:fs';
import { HOST_RENEW_PATH, type HostRenewRequest, type HostRenewResult } from '#contracts';
import { certificateFacts, createHostKeyAndCsr, isSignedBy, pemText, signRenewalProof } from '#pki';
import { writeFileAtomic, type FileOwner } from '#private-fs';
import { hostClockLead, recordCertificateReceipt } from './certificate-receipt';
import { HostFileModes } from './host-files';
import {
  certificateProblem,
  checkResult,
  finishInterruptedRenewal,
  hostCertificateFiles,
  isIssuedCertificate,
  pendingRenewalFiles,
  postToPlane,
  readOptional,
  RegistrationError,
  writePlaneFacts,
  type RegistrationOptions,
} from './registration';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RenewalOptions extends Pick<RegistrationOptions, 'root' | 'hostId' | 'joinUrl' | 'fetch' | 'timeoutMs' | 'commsOwner'> {
  /** Renew once fewer than this many days are left; undefined: once a third of the certificate's lifetime is left. */
  renewBeforeDays?: number;
  clock?: () => number;
}

export type RenewalOutcome =
  /** No usable certificate: registration's business, not renewal's. */
  | { state: 'no-certificate'; problem: string }
  /** dueAt by this host's clock: the plane's due time moved by how far this host's clock runs ahead (certificate-receipt.ts). */
  | { state: 'not-due'; notAfter: Date; dueAt: Date }
  | { state: 'renewed'; notAfter: Date; dueAt: Date; previousSerial: string; serial: string };

/**
 * Renews the host certificate once it is due: a new key and CSR made here, signed with the
 * current key as proof (`POST /v1/renew`), so no join token is needed while the current
 * certificate is valid. The new key and CSR wait beside the current pair until their
 * certificate is in place, so that a renewal whose answer was lost sends the same request
 * again (the plane then answers with the certificate it issued for it). The new pair is
 * moved in place key first; an agent stopped in between finishes the move on its next
 * start. pf9-comms picks the new files up by itself.
 */
export async function renewIfDue(options: RenewalOptions): Promise<RenewalOutcome> {
  const files = hostCertificateFiles(options.root);
  const clock = options.clock ?? Date.now;
  const now = clock();
  await finishInterruptedRenewal(files);
  const problem = await certificateProblem(files, options.hostId, now);
  if (problem !== null) return { state: 'no-certificate', problem };
  const [currentCert, currentKey] = await Promise.all([fs.readFile(files.cert, 'utf8'), fs.readFile(files.key, 'utf8')]);
  const current = certificateFacts(currentCert);
  const dueAt = shifted(renewalDueAt(current.notBefore, current.notAfter, options.renewBeforeDays), await hostClockLead(files.receipt, current, now));
  if (now < dueAt.getTime()) return { state: 'not-due', notAfter: current.notAfter, dueAt };

  const pending = pendingRenewalFiles(files);
  const { keyPem, csrPem } = await pendingRequest(pending, options.hostId, options.commsOwner);
  const request: HostRenewRequest = { hostId: options.hostId, certificate: currentCert, csr: csrPem, proof: signRenewalProof(currentKey, currentCert, csrPem) };
  let result: HostRenewResult;
  try {
    result = await postToPlane(options, HOST_RENEW_PATH, request, isIssuedCertificate, {
      refusal: 'the plane refused to renew the host certificate',
      result: 'a renewal result',
    });
    checkResult(result, options.hostId, keyPem);
    const trusted = await readOptional(files.caCert);
    if (trusted !== null && !isSignedBy(result.certificate, trusted)) {
      throw new RegistrationError(`the plane's answer cannot be used: the renewed certificate is not signed by the CA this host trusts (${files.caCert})`);
    }
  } catch (err) {
    // A final answer: the next renewal starts afresh. Otherwise (no answer) it sends the same
    // request again, which the plane answers with the same certificate if it issued one.
    if (!renewalMayRecover(err)) await Promise.all([fs.rm(pending.key, { force: true }), fs.rm(pending.csr, { force: true })]);
    throw err;
  }
  await writePlaneFacts(files, result);
  await writeFileAtomic(pending.cert, pemText(result.certificate), HostFileModes.cert, { owner: options.commsOwner });
  if (!(await finishInterruptedRenewal(files))) throw new RegistrationError(`the renewed certificate could not be put in place of ${files.cert}`);
  const receivedAt = clock();
  await recordCertificateReceipt(files.receipt, result.certificate, receivedAt);
  const renewed = certificateFacts(result.certificate);
  return {
    state: 'renewed',
    notAfter: renewed.notAfter,
    dueAt: shifted(renewalDueAt(renewed.notBefore, renewed.notAfter, options.renewBeforeDays), await hostClockLead(files.receipt, renewed, receivedAt)),
    previousSerial: current.serial,
    serial: renewed.serial,
  };
}

/** The new key and request of a renewal that got no answer yet, or new ones (the key written first). */
async function pendingRequest(pending: { key: string; csr: string }, hostId: string, owner: FileOwner | undefined): Promise<{ keyPem: string; csrPem: string }> {
  const [keyPem, csrPem] = await Promise.all([readOptional(pending.key), readOptional(pending.csr)]);
  if (keyPem !== null && csrPem !== null) return { keyPem, csrPem };
  const made = await createHostKeyAndCsr(hostId);
  // The key before asking: once the plane has signed, the certificate is useless without it.
  await writeFileAtomic(pending.key, made.keyPem, HostFileModes.key, { owner });
  await writeFileAtomic(pending.csr, made.csrPem, HostFileModes.cert, { owner });
  return made;
}

/** A time of the plane's clock, read on this host's (which runs `leadMs` ahead). */
function shifted(planeTime: Date, leadMs: number): Date {
  return new Date(planeTime.getTime() + leadMs);
}

/** When a certificate valid from notBefore to notAfter is due for renewal (by the plane's clock). */
export function renewalDueAt(notBefore: Date, notAfter: Date, renewBeforeDays?: number): Date {
  const lead = renewBeforeDays !== undefined ? renewBeforeDays * DAY_MS : (notAfter.getTime() - notBefore.getTime()) / 3;
  return new Date(notAfter.getTime() - lead);
}

/** Whether a failed renewal is worth trying again later (the plane unreachable, or failing) rather than final. */
export function renewalMayRecover(err: unknown): boolean {
  return !(err instanceof RegistrationError && err.status !== undefined && err.status < 500);
}

