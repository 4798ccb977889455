import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { CRL_REASON, crlRevocations, crlSignedBy, errorCode, errorMessage, fileStamps } from '../../libs/tunnel';
import type { IngressConfig } from './ingress.config';

/** What the ingress's TLS is made of, read from its files. */
export interface IngressTls {
  /** cert, key, ca and the settings every context gets (minimum version, key exchange groups, cipher suites). */
  options: SecureContextOptions;
  /** When the ingress's certificate expires. */
  notAfter: Date;
  /**
   * The serials (normalSerial's spelling) of host certificates revoked for a reason other than
   * being superseded (a decommissioned host): their open connections are closed. A certificate
   * a renewal superseded keeps its open connections, as before; new ones it cannot open.
   */
  withdrawnSerials: ReadonlySet<string>;
}

/**
 * The ingress's certificate and key, and the CA that host certificates must chain to:
 * read at start (a problem there stops the ingress), and read again when one of the files
 * changed (renewal, CA rotation), so that new connections use them without a restart.
 */
export class IngressCredentials {
  private stamps: string;
  private loaded: IngressTls;

  constructor(
    private readonly files: IngressConfig['tls'],
    private readonly settings: Pick<SecureContextOptions, 'minVersion' | 'ecdhCurve' | 'ciphers'>,
  ) {
    this.stamps = this.currentStamps();
    this.loaded = this.read();
  }

  get current(): IngressTls {
    return this.loaded;
  }

  /**
   * The new TLS when a file changed since the last look and the new set works; undefined
   * when nothing changed. Throws when the new files cannot be used (half written, a key that
   * does not match): the loaded ones stay, and the same files are not tried again.
   */
  reloadIfChanged(): IngressTls | undefined {
    const stamps = this.currentStamps();
    if (stamps === this.stamps) return undefined;
    this.stamps = stamps;
    const next = this.read();
    this.loaded = next;
    return next;
  }

  private read(): IngressTls {
    const [cert, key, ca] = [this.files.certFile, this.files.keyFile, this.files.caFile].map((file) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new Error(`cannot read ${file}: ${errorMessage(err)} (PF9_INGRESS_CERT_FILE, PF9_INGRESS_KEY_FILE, PF9_INGRESS_CA_FILE, or the plane PKI under PF9_DATA_DIR)`);
      }
    });
    // The revoked host certificates, once the plane has written the list.
    const crl = readIfPresent(this.files.crlFile);
    if (crl !== undefined && !crlSignedBy(crl.toString('utf8'), ca.toString('utf8'))) {
      throw new Error(`the CRL ${this.files.crlFile} (PF9_INGRESS_CRL_FILE) is not a CRL signed by the CA ${this.files.caFile}: with it, every host certificate would be refused`);
    }
    const withdrawnSerials = new Set<string>();
    for (const [serial, reason] of crl !== undefined ? crlRevocations(crl.toString('utf8')) : []) {
      if (reason !== CRL_REASON.superseded) withdrawnSerials.add(serial);
    }
    const options: SecureContextOptions = { cert, key, ca, ...(crl !== undefined ? { crl } : {}), ...this.settings };
    let notAfter: Date;
    try {
      createSecureContext(options);
      notAfter = new Date(new X509Certificate(cert).validTo);
    } catch (err) {
      throw new Error(
        `the certificate ${this.files.certFile}, key ${this.files.keyFile}, CA ${this.files.caFile} and CRL ${this.files.crlFile} (if there) cannot be used together: ${errorMessage(err)}`,
      );
    }
    return { options, notAfter, withdrawnSerials };
  }

  private currentStamps(): string {
    return fileStamps([this.files.certFile, this.files.keyFile, this.files.caFile, this.files.crlFile]);
  }
}

/** The file, or undefined when there is none; any other problem reading it is one. */
function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${errorMessage(err)}`);
  }
}
