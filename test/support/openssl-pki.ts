import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_CERT_URI_PREFIX } from '#contracts';

/**
 * A throwaway PKI made with the openssl command line, shaped like the plane's (ECDSA P-256,
 * SHA-256): a CA, the ingress's server certificate for the plane's name and 127.0.0.1, a
 * host certificate naming urn:pf9:host:<hostId>, and a host certificate from another CA
 * (which the ingress must refuse). Made with openssl rather than libs/pki so that stock
 * proxies are tested against certificates that our own code did not make.
 */
export interface OpensslPki {
  dir: string;
  caCert: string;
  serverCert: string;
  /** The server key, beside the certificate as <name>.key (HAProxy's ssl-load-extra-del-ext). */
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Client certificate and key in one file (HAProxy's `crt` on a server line). */
  clientPem: string;
  foreignClientCert: string;
  foreignClientKey: string;
  planeName: string;
  hostId: string;
}

export function opensslAvailable(): string | undefined {
  const found = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return found.error ? undefined : found.stdout.trim();
}

function openssl(args: string[], dir: string): void {
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (result.error) throw new Error(`openssl could not run (Debian package: openssl): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${result.stderr}`);
}

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir: string, name: string, subject: string): void {
  openssl(['req', '-x509', ...P256, '-sha256', '-days', '2', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', subject], dir);
}

function issue(dir: string, ca: string, name: string, subject: string, extensions: string[]): void {
  openssl(['req', '-new', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, '-sha256', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
}

/** Writes the PKI into `dir` (which must exist). */
export function makeOpensslPki(dir: string, options: { planeName?: string; hostId?: string } = {}): OpensslPki {
  const planeName = options.planeName ?? 'localhost';
  const hostId = options.hostId ?? 'bench-host-1';
  makeCa(dir, 'ca', '/CN=hostplane test CA');
  issue(dir, 'ca', 'ingress', `/CN=${planeName}`, [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = DNS:${planeName}, IP:127.0.0.1`,
  ]);
  const hostExtensions = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = clientAuth',
    `subjectAltName = URI:${HOST_CERT_URI_PREFIX}${hostId}`,
  ];
  issue(dir, 'ca', 'host', `/CN=${hostId}`, hostExtensions);
  makeCa(dir, 'foreign-ca', '/CN=someone else CA');
  issue(dir, 'foreign-ca', 'foreign-host', `/CN=${hostId}`, hostExtensions);
  const file = (name: string): string => join(dir, name);
  writeFileSync(file('host.pem'), readFileSync(file('host.crt'), 'utf8') + readFileSync(file('host.key'), 'utf8'));
  return {
    dir,
    caCert: file('ca.crt'),
    serverCert: file('ingress.crt'),
    serverKey: file('ingress.key'),
    clientCert: file('host.crt'),
    clientKey: file('host.key'),
    clientPem: file('host.pem'),
    foreignClientCert: file('foreign-host.crt'),
    foreignClientKey: file('foreign-host.key'),
    planeName,
    hostId,
  };
}
