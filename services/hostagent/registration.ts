import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { HOST_JOIN_PATH, type HostBrokerAccount, type HostJoinRequest, type HostJoinResult, type HostRenewResult } from '#contracts';
import { createHostKeyAndCsr, hostIdOfCert, isSignedBy, keyMatchesCert, certificateFacts, pemText, type CertificateFacts } from '#pki';
import { ensurePrivateDir, errnoCode, writeFileAtomic, type FileOwner } from '#private-fs';
import { hostClockLead, recordCertificateReceipt } from './certificate-receipt';
import { hostCertificateFiles, HostFileModes, pendingRenewalFiles, type HostCertificateFiles } from './host-files';

export { hostCertificateFiles, pendingRenewalFiles, type HostCertificateFiles } from './host-files';

const DEFAULT_TIMEOUT_MS = 30_000;

/** What the plane tells a host about itself at join and renewal (PkiFiles.host.plane). */
export interface PlaneFacts {
  /** The plane's broker user: the user_id of every control message it sends. */
  brokerUser: string;
}

export interface RegistrationOptions {
  /** PF9_ROOT. */
  root: string;
  hostId: string;
  hostname: string;
  /** The join endpoint's base URL (PF9_JOIN_URL): through pf9-comms, the ingress's `pf9-join` route. */
  joinUrl: string;
  /** The one-time join token (PF9_JOIN_TOKEN); needed only when the host has no valid certificate. */
  token?: string;
  fetch?: typeof fetch;
  clock?: () => number;
  timeoutMs?: number;
  /** The user pf9-comms runs as (PF9_COMMS_USER): the key and certificates are given to it, as comms reads them. */
  commsOwner?: FileOwner;
}

export interface RegistrationOutcome {
  /** True when this call joined the plane; false when the certificate on disk was kept. */
  registered: boolean;
  files: HostCertificateFiles;
}

/** Registration failed for a reason the operator can act on; `code` is the plane's error code when it answered one. */
export class RegistrationError extends Error {
  override readonly name = 'RegistrationError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Keeps what the plane said about itself (its answer carries it from this version on). */
export async function writePlaneFacts(files: HostCertificateFiles, answer: { planeBrokerUser?: unknown }): Promise<void> {
  if (typeof answer.planeBrokerUser !== 'string' || answer.planeBrokerUser === '') return;
  const facts: PlaneFacts = { brokerUser: answer.planeBrokerUser };
  await writeFileAtomic(files.plane, `${JSON.stringify(facts, null, 2)}\n`, HostFileModes.planeFacts);
}

/** What the plane said about itself, or null when it never did (a host registered with an older plane). */
export async function readPlaneFacts(files: HostCertificateFiles): Promise<PlaneFacts | null> {
  const text = await readOptional(files.plane);
  if (text === null) return null;
  const parsed = JSON.parse(text) as { brokerUser?: unknown };
  if (typeof parsed.brokerUser !== 'string' || parsed.brokerUser === '') throw new Error(`${files.plane} does not name the plane's broker user`);
  return { brokerUser: parsed.brokerUser };
}

/**
 * Makes sure this host holds a certificate from the plane naming it. A valid one on disk
 * is kept; otherwise the host makes a key and CSR here (the key never leaves it), joins
 * with its one-time token, and writes its certificate, the plane's CA and, when the plane
 * gives it a broker user of its own, broker.json. Joining does not authorize the host.
 */
export async function ensureRegistered(options: RegistrationOptions): Promise<RegistrationOutcome> {
  const files = hostCertificateFiles(options.root);
  await finishInterruptedRenewal(files);
  const clock = options.clock ?? Date.now;
  const problem = await certificateProblem(files, options.hostId, clock());
  if (problem === null) return { registered: false, files };
  const token = options.token?.trim() ?? '';
  if (token === '') {
    throw new RegistrationError(
      `this host has no usable certificate (${problem}) and no join token: ` +
        `create one on the plane with \`hostplane join-token create\` (\`--host ${options.hostId}\` if this host was registered before) and give it to the agent as PF9_JOIN_TOKEN`,
    );
  }

  await fs.mkdir(join(options.root, 'etc', 'pf9'), { recursive: true });
  const owner = options.commsOwner;
  await ensurePrivateDir(files.dir, HostFileModes.certsDir, owner);
  const { keyPem, csrPem } = await createHostKeyAndCsr(options.hostId);
  // The key first: once the plane has signed, the certificate is useless without it.
  await writeFileAtomic(files.key, keyPem, HostFileModes.key, { owner });
  const request: HostJoinRequest = { token, hostId: options.hostId, hostname: options.hostname, csr: csrPem };
  const result = await postToPlane(options, HOST_JOIN_PATH, request, isJoinResult, { refusal: 'the plane refused to register this host', result: 'a join result' });
  checkResult(result, options.hostId, keyPem);
  await writeFileAtomic(files.caCert, pemText(result.caCertificate), HostFileModes.cert, { owner });
  // The broker password is the agent's alone: comms never needs it.
  if (result.broker !== null) await writeFileAtomic(files.broker, `${JSON.stringify(result.broker, null, 2)}\n`, HostFileModes.broker);
  await writePlaneFacts(files, result);
  // The certificate last: it is what says "registered" on the next start.
  await writeFileAtomic(files.cert, pemText(result.certificate), HostFileModes.cert, { owner });
  await recordCertificateReceipt(files.receipt, result.certificate, clock());
  return { registered: true, files };
}

/**
 * Completes a renewal that stopped between writing its files and putting them in place: the
 * new certificate goes in once the key it is for is in place (or is moved there first). A
 * new key whose certificate never came is left for the next renewal to overwrite.
 */
export async function finishInterruptedRenewal(files: HostCertificateFiles): Promise<boolean> {
  const pending = pendingRenewalFiles(files);
  const cert = await readOptional(pending.cert);
  if (cert === null) return false;
  const nextKey = await readOptional(pending.key);
  if (nextKey !== null && keyMatchesCert(nextKey, cert)) {
    await fs.rename(pending.key, files.key);
  }
  const key = await readOptional(files.key);
  if (key === null || !keyMatchesCert(key, cert)) {
    await fs.rm(pending.cert, { force: true });
    return false;
  }
  await fs.rename(pending.cert, files.cert);
  await fs.rm(pending.csr, { force: true });
  return true;
}

/** Why the certificate on disk cannot be used, or null when it can. */
export async function certificateProblem(files: HostCertificateFiles, hostId: string, now: number): Promise<string | null> {
  const certPem = await readOptional(files.cert);
  const keyPem = await readOptional(files.key);
  if (certPem === null || keyPem === null) return `${certPem === null ? files.cert : files.key} is missing`;
  let facts: CertificateFacts;
  try {
    facts = certificateFacts(certPem);
  } catch {
    return `${files.cert} is not a certificate`;
  }
  const named = hostIdOfCert(certPem);
  if (named !== hostId) return `${files.cert} names host ${named ?? '(none)'}, not ${hostId}`;
  // Expired by the plane's clock, which is the one the ingress judges by.
  if (facts.notAfter.getTime() <= now - (await hostClockLead(files.receipt, facts, now))) return `${files.cert} expired at ${facts.notAfter.toISOString()}`;
  if (!keyMatchesCert(keyPem, certPem)) return `${files.key} is not the key of ${files.cert}`;
  return null;
}

/** POSTs a request to the join listener; answers the body when it is `isResult`, else a RegistrationError saying why. */
export async function postToPlane<T>(
  options: Pick<RegistrationOptions, 'joinUrl' | 'fetch' | 'timeoutMs'>,
  path: string,
  request: unknown,
  isResult: (body: unknown) => body is T,
  words: { refusal: string; result: string },
): Promise<T> {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.joinUrl.replace(/\/+$/, '')}${path}`;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (err) {
    throw new RegistrationError(`cannot reach the plane's join endpoint at ${url}: ${describeFetchFailure(err)}`);
  }
  const body = parseJson(text);
  if (!response.ok) {
    const error = isRecord(body) && isRecord(body.error) ? body.error : null;
    const code = error && typeof error.code === 'string' ? error.code : `HTTP_${response.status}`;
    const message = error && typeof error.message === 'string' ? error.message : text.trim().slice(0, 200);
    throw new RegistrationError(`${words.refusal}: ${code}: ${message}`, response.status, code);
  }
  if (!isResult(body)) throw new RegistrationError(`the plane's join endpoint at ${url} did not answer with ${words.result}`);
  return body;
}

/** The answer must be a certificate for this host and this key, signed by the CA that comes with it. */
export function checkResult(result: Pick<HostJoinResult, 'hostId' | 'certificate' | 'caCertificate'>, hostId: string, keyPem: string): void {
  const problems: string[] = [];
  if (result.hostId !== hostId) problems.push(`it is for host ${result.hostId}`);
  if (hostIdOfCert(result.certificate) !== hostId) problems.push('the certificate does not name this host');
  if (!keyMatchesCert(keyPem, result.certificate)) problems.push("the certificate is not for this host's key");
  if (!isSignedBy(result.certificate, result.caCertificate)) problems.push('the certificate is not signed by the CA sent with it');
  if (problems.length > 0) throw new RegistrationError(`the plane's answer cannot be used: ${problems.join('; ')}`);
}

/** What every answer that issues a certificate holds (a join's, a renewal's). */
export function isIssuedCertificate(value: unknown): value is HostRenewResult {
  return isRecord(value) && typeof value.hostId === 'string' && typeof value.certificate === 'string' && typeof value.caCertificate === 'string';
}

function isJoinResult(value: unknown): value is HostJoinResult {
  return isIssuedCertificate(value) && 'broker' in value && (value.broker === null || isBrokerAccount(value.broker));
}

function isBrokerAccount(value: unknown): value is HostBrokerAccount {
  return isRecord(value) && typeof value.username === 'string' && value.username !== '' && typeof value.password === 'string' && value.password !== '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function readOptional(path: string): Promise<string | null> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

function describeFetchFailure(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'no answer in time';
  const cause = err instanceof Error ? err.cause : undefined;
  if (isRecord(cause) && typeof cause.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}
