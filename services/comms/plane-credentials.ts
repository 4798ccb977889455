import { readFileSync } from 'node:fs';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import type { Logger } from '#logging';
import { classicalGroups, errorCode, errorMessage, fileStamps } from '../../libs/tunnel';
import type { CommsConfig } from './comms.config';

export type CredentialsProblem = { cause: 'cert-missing' | 'cert-invalid' | 'ca-missing'; message: string };
export type ContextResult = { ok: true; contexts: PlaneContexts } | { ok: false; problem: CredentialsProblem };

/**
 * One set of credentials, twice: `full` offers the configured key exchange groups; `resume`,
 * there when those include a post-quantum hybrid, offers their classical part alone, for
 * resuming a session that a hybrid handshake began (PlaneDialer).
 */
export interface PlaneContexts {
  full: SecureContext;
  resume?: SecureContext;
}

/** Files are looked at again at most this often while they are there (rotation), and on every use while they are not. */
const RECHECK_MS = 1_000;

/**
 * The TLS contexts comms dials the plane with: one with the CA alone (registration, before
 * the host has a certificate) and one with the host certificate too. Built once and
 * reused for every connection (parsing PEM per connection would cost more than the
 * handshake), and rebuilt when the files change: the host agent writes the certificate at
 * registration while comms runs.
 */
export class PlaneCredentials {
  private stamps = '';
  private anonymous: ContextResult | undefined;
  private withHostCert: ContextResult | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: Pick<CommsConfig, 'ca' | 'hostCert' | 'tlsGroups' | 'tlsCiphers'>,
    private readonly logger: Logger,
    /** Called when the contexts were rebuilt: sessions of the old ones must not be resumed. */
    private readonly onChange: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  context(withHostCert: boolean): ContextResult {
    const current = withHostCert ? this.withHostCert : this.anonymous;
    if (current === undefined || !current.ok || this.now() - this.checkedAt >= RECHECK_MS) this.refresh();
    return (withHostCert ? this.withHostCert : this.anonymous) as ContextResult;
  }

  private refresh(): void {
    this.checkedAt = this.now();
    const { ca, hostCert, tlsGroups, tlsCiphers } = this.config;
    const suites = { groups: tlsGroups, ciphers: tlsCiphers };
    const stamps = fileStamps([ca.file, hostCert.certFile, hostCert.keyFile]);
    if (stamps === this.stamps && this.anonymous !== undefined) return;
    this.stamps = stamps;
    const hadContexts = this.anonymous !== undefined;

    const trust = this.trust();
    if (!trust.ok) {
      this.anonymous = this.withHostCert = { ok: false, problem: trust.problem };
      return;
    }
    this.anonymous = build({ ca: trust.ca }, suites, 'cert-invalid', 'the CA bundle');
    const cert = readIfPresent(hostCert.certFile);
    const key = readIfPresent(hostCert.keyFile);
    if (cert === undefined || key === undefined) {
      this.withHostCert = {
        ok: false,
        problem: { cause: 'cert-missing', message: `no host certificate yet (${cert === undefined ? hostCert.certFile : hostCert.keyFile} is missing): the host has not registered` },
      };
    } else {
      this.withHostCert = build({ ca: trust.ca, cert, key }, suites, 'cert-invalid', `the host certificate ${hostCert.certFile} and key ${hostCert.keyFile}`);
      if (this.withHostCert.ok) this.logger.info('host certificate loaded', { certFile: hostCert.certFile });
      else this.logger.warn('host certificate unusable', { reason: this.withHostCert.problem.message });
    }
    if (hadContexts) this.onChange();
  }

  private trust(): { ok: true; ca: string[] | undefined } | { ok: false; problem: CredentialsProblem } {
    const { file, required } = this.config.ca;
    try {
      return { ok: true, ca: [readFileSync(file, 'utf8')] };
    } catch (err) {
      const code = errorCode(err);
      // Only a file that is not there means "the system's CAs": one that cannot be read is a fault to report.
      if (code !== 'ENOENT') return { ok: false, problem: { cause: 'ca-missing', message: `the CA bundle ${file} cannot be read (${code ?? errorMessage(err)})` } };
      if (required) return { ok: false, problem: { cause: 'ca-missing', message: `the CA bundle ${file} (PF9_CA_FILE) cannot be read` } };
    }
    const system = getCACertificates('system');
    this.logger.info('no plane CA bundle: trusting the system CAs', { caFile: file, systemCas: system.length });
    // Node's bundled roots when the system has none.
    return { ok: true, ca: system.length > 0 ? system : undefined };
  }
}

function build(
  options: { ca: string[] | undefined; cert?: string; key?: string },
  { groups, ciphers }: { groups: string | undefined; ciphers: string },
  cause: CredentialsProblem['cause'],
  what: string,
): ContextResult {
  let full: SecureContext;
  try {
    full = createSecureContext({ ...options, ciphers, ecdhCurve: groups, minVersion: 'TLSv1.2' });
  } catch (err) {
    return { ok: false, problem: { cause, message: `${what} cannot be used: ${errorMessage(err)}` } };
  }
  const classical = classicalGroups(groups);
  let resume: SecureContext | undefined;
  try {
    // A group list OpenSSL takes whole may still have no classical part it knows on its own.
    resume = classical === undefined ? undefined : createSecureContext({ ...options, ciphers, ecdhCurve: classical, minVersion: 'TLSv1.2' });
  } catch {
    resume = undefined;
  }
  return { ok: true, contexts: { full, resume } };
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
