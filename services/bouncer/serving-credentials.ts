import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { hostDnsName } from '#contracts';
import { errorMessage, fileStamps, HOST_CERT_URI_PREFIX, HOST_ID_PATTERN } from '../../libs/tunnel';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** The certificate bouncer serves, read from the host's files. */
export interface ServingTls {
  options: SecureContextOptions;
  /** The host the certificate names (its urn:pf9:host: URI). */
  hostId: string;
  /** The name kube-apiserver checks: <hostId>.hosts.hostplane.internal. */
  dnsName: string;
  notAfter: Date;
  serial: string;
}

/**
 * The host certificate and key, served to kube-apiserver: read at start (a problem there
 * stops bouncer, with what to do), and read again when a file changed (the host agent
 * renews the certificate), so that new connections get the new one without a restart.
 */
export class ServingCredentials {
  private stamps: string;
  private loaded: ServingTls;

  constructor(
    private readonly files: { certFile: string; keyFile: string },
    private readonly now: () => number = Date.now,
  ) {
    this.stamps = fileStamps([files.certFile, files.keyFile]);
    this.loaded = this.read();
  }

  get current(): ServingTls {
    return this.loaded;
  }

  /**
   * The new TLS when a file changed and the new pair works; undefined when nothing changed.
   * Throws when the new files cannot be used (half written, a key of another certificate,
   * another host): the loaded ones stay, and the same files are not tried again.
   */
  reloadIfChanged(): ServingTls | undefined {
    const stamps = fileStamps([this.files.certFile, this.files.keyFile]);
    if (stamps === this.stamps) return undefined;
    this.stamps = stamps;
    const next = this.read();
    if (next.hostId !== this.loaded.hostId) throw new Error(`the certificate ${this.files.certFile} now names host ${next.hostId}, not ${this.loaded.hostId}: restart bouncer to serve another host`);
    this.loaded = next;
    return next;
  }

  private read(): ServingTls {
    const { certFile, keyFile } = this.files;
    const [cert, key] = [certFile, keyFile].map((file) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new Error(`cannot read ${file}: ${errorMessage(err)} (PF9_CERT_FILE, PF9_KEY_FILE: the host's certificate and key, written by the host agent at registration)`);
      }
    });
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      throw new Error(`${certFile} is not a PEM certificate: ${errorMessage(err)}`);
    }
    let keyMatches = false;
    try {
      keyMatches = x509.checkPrivateKey(createPrivateKey(key));
    } catch {
      // not a key at all: said below
    }
    if (!keyMatches) throw new Error(`${keyFile} is not the private key of ${certFile}`);
    const hostId = hostIdOf(x509);
    if (hostId === undefined) throw new Error(`${certFile} names no host (no ${HOST_CERT_URI_PREFIX}<hostId> name): it is not a host certificate`);
    const dnsName = hostDnsName(hostId);
    if (dnsName === null) throw new Error(`host id ${hostId} is not a DNS label (lower-case letters, digits, "-"): its certificate cannot carry a name for kube-apiserver to check`);
    const renew = 'renew it early: restart the host agent once with PF9_CERT_RENEW_BEFORE_DAYS above the days it has left';
    if (x509.checkHost(dnsName) !== dnsName) throw new Error(`${certFile} does not name ${dnsName}: it was issued before host certificates served TLS; ${renew}`);
    if (x509.keyUsage !== undefined && !x509.keyUsage.includes(SERVER_AUTH)) throw new Error(`${certFile} is not good for TLS servers (no serverAuth): ${renew}`);
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() <= this.now()) throw new Error(`${certFile} expired at ${notAfter.toISOString()}: the host must register again (hostplane join-token create --host ${hostId})`);
    const options: SecureContextOptions = { cert, key, minVersion: 'TLSv1.2' };
    try {
      createSecureContext(options);
    } catch (err) {
      throw new Error(`${certFile} and ${keyFile} cannot be served: ${errorMessage(err)}`);
    }
    return { options, hostId, dnsName, notAfter, serial: x509.serialNumber.toLowerCase() };
  }
}

/** The host id of the certificate's urn:pf9:host: URI. */
function hostIdOf(cert: X509Certificate): string | undefined {
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (!entry.startsWith(`URI:${HOST_CERT_URI_PREFIX}`)) continue;
    const hostId = entry.slice(`URI:${HOST_CERT_URI_PREFIX}`.length);
    if (HOST_ID_PATTERN.test(hostId)) return hostId;
  }
  return undefined;
}
