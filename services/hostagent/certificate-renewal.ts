import { promises as fs } from 'node:fs';
import { HOST_RENEW_PATH, type HostRenewRequest, type HostRenewResult } from '#contracts';
import { certificateFacts, createHostKeyAndCsr, isSignedBy, signRenewalProof, writeFileAtomic } from '#pki';
import {
  certificateProblem,
  checkResult,
  finishInterruptedRenewal,
  hostCertificateFiles,
  isIssuedCertificate,
  pendingRenewalFiles,
  postToPlane,
  PRIVATE_MODE,
  PUBLIC_MODE,
  readOptional,
  RegistrationError,
  writePlaneFacts,
  type RegistrationOptions,
} from './registration';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RenewalOptions extends Pick<RegistrationOptions, 'root' | 'hostId' | 'joinUrl' | 'fetch' | 'timeoutMs'> {
  /** Renew once fewer than this many days are left; undefined: once a third of the certificate's lifetime is left. */
  renewBeforeDays?: number;
  clock?: () => number;
}

export type RenewalOutcome =
  /** No usable certificate: registration's business, not renewal's. */
  | { state: 'no-certificate'; problem: string }
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
  const now = (options.clock ?? Date.now)();
  await finishInterruptedRenewal(files);
  const problem = await certificateProblem(files, options.hostId, now);
  if (problem !== null) return { state: 'no-certificate', problem };
  const [currentCert, currentKey] = await Promise.all([fs.readFile(files.cert, 'utf8'), fs.readFile(files.key, 'utf8')]);
  const current = certificateFacts(currentCert);
  const dueAt = renewalDueAt(current.notBefore, current.notAfter, options.renewBeforeDays);
  if (now < dueAt.getTime()) return { state: 'not-due', notAfter: current.notAfter, dueAt };

  const pending = pendingRenewalFiles(files);
  const { keyPem, csrPem } = await pendingRequest(pending, options.hostId);
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
  await writeFileAtomic(pending.cert, result.certificate, PUBLIC_MODE);
  if (!(await finishInterruptedRenewal(files))) throw new RegistrationError(`the renewed certificate could not be put in place of ${files.cert}`);
  const renewed = certificateFacts(result.certificate);
  return {
    state: 'renewed',
    notAfter: renewed.notAfter,
    dueAt: renewalDueAt(renewed.notBefore, renewed.notAfter, options.renewBeforeDays),
    previousSerial: current.serial,
    serial: renewed.serial,
  };
}

/** The new key and request of a renewal that got no answer yet, or new ones (the key written first). */
async function pendingRequest(pending: { key: string; csr: string }, hostId: string): Promise<{ keyPem: string; csrPem: string }> {
  const [keyPem, csrPem] = await Promise.all([readOptional(pending.key), readOptional(pending.csr)]);
  if (keyPem !== null && csrPem !== null) return { keyPem, csrPem };
  const made = await createHostKeyAndCsr(hostId);
  // The key before asking: once the plane has signed, the certificate is useless without it.
  await writeFileAtomic(pending.key, made.keyPem, PRIVATE_MODE);
  await writeFileAtomic(pending.csr, made.csrPem, PUBLIC_MODE);
  return made;
}

/** When a certificate valid from notBefore to notAfter is due for renewal. */
export function renewalDueAt(notBefore: Date, notAfter: Date, renewBeforeDays?: number): Date {
  const lead = renewBeforeDays !== undefined ? renewBeforeDays * DAY_MS : (notAfter.getTime() - notBefore.getTime()) / 3;
  return new Date(notAfter.getTime() - lead);
}

/** Whether a failed renewal is worth trying again later (the plane unreachable, or failing) rather than final. */
export function renewalMayRecover(err: unknown): boolean {
  return !(err instanceof RegistrationError && err.status !== undefined && err.status < 500);
}

