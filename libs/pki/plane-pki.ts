import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { PkiFiles } from '#contracts';
import { createCa, createCrl, issueServerCert, PkiError, type CertifiedKey } from './certificates';
import { ensurePrivateDir, exists, writeFileAtomic } from './pem-files';

const PRIVATE_KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;

/** Absolute paths of the plane's PKI files (PkiFiles.plane under the data directory). */
export interface PlanePkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  ingressCert: string;
  ingressKey: string;
  /** The host certificates the plane revoked (PEM CRL, signed by the CA), for the ingress. */
  hostCrl: string;
}

export interface PlanePki {
  paths: PlanePkiPaths;
  ca: CertifiedKey;
  ingress: CertifiedKey;
}

export interface InitPlanePkiOptions {
  /** DNS names of the ingress certificate. Default ['localhost']. */
  ingressNames?: string[];
  /** IP addresses of the ingress certificate. Default ['127.0.0.1']. */
  ingressIps?: string[];
  /** Replace an existing CA. Every host certified by the old one must then join again. */
  force?: boolean;
  /** The CA's common name. Default "hostplane CA". */
  caCommonName?: string;
}

/** The plane has no PKI yet: the operator has to create it. */
export class PlanePkiMissingError extends PkiError {
  constructor(readonly paths: PlanePkiPaths) {
    super(`the plane has no PKI (${paths.caCert} is missing): run \`hostplane pki init\``);
  }
}

/** A CA exists already and `force` was not given. */
export class PlanePkiExistsError extends PkiError {
  constructor(readonly paths: PlanePkiPaths) {
    super(
      `a CA exists already at ${paths.caCert}; replacing it would orphan every host it certified. ` +
        'Pass --force to replace it anyway (each host must then join again with a new token).',
    );
  }
}

export function planePkiPaths(dataDir: string): PlanePkiPaths {
  const base = resolve(dataDir);
  const p = PkiFiles.plane;
  return {
    dir: join(base, p.dir),
    caCert: join(base, p.caCert),
    caKey: join(base, p.caKey),
    ingressCert: join(base, p.ingressCert),
    ingressKey: join(base, p.ingressKey),
    hostCrl: join(base, p.hostCrl),
  };
}

/**
 * Creates the plane's CA and the ingress's server certificate under `dataDir`. Keys are
 * written 0600 in a 0700 directory; an existing CA is kept unless `force`.
 */
export async function initPlanePki(dataDir: string, options: InitPlanePkiOptions = {}): Promise<PlanePkiPaths> {
  const paths = planePkiPaths(dataDir);
  if (!options.force && ((await exists(paths.caCert)) || (await exists(paths.caKey)))) throw new PlanePkiExistsError(paths);
  const ingressNames = options.ingressNames ?? ['localhost'];
  const ingressIps = options.ingressIps ?? ['127.0.0.1'];
  // Everything is made before anything is written: a bad name leaves the directory as it was.
  const ca = await createCa({ commonName: options.caCommonName ?? 'hostplane CA' });
  const ingress = await issueServerCert(ca, { dnsNames: ingressNames, ipAddresses: ingressIps });
  await ensurePrivateDir(paths.dir, DIR_MODE);
  // The key before its certificate: a reader that finds the certificate finds its key too.
  await writeFileAtomic(paths.caKey, ca.keyPem, PRIVATE_KEY_MODE);
  await writeFileAtomic(paths.caCert, ca.certPem, CERT_MODE);
  await writeFileAtomic(paths.ingressKey, ingress.keyPem, PRIVATE_KEY_MODE);
  await writeFileAtomic(paths.ingressCert, ingress.certPem, CERT_MODE);
  // No host certificate revoked yet: an empty list, there from the start for ingresses to load.
  await writeFileAtomic(paths.hostCrl, await createCrl(ca, []), CERT_MODE);
  return paths;
}

/** Reads the plane's PKI; PlanePkiMissingError when `hostplane pki init` has not been run. */
export async function loadPlanePki(dataDir: string): Promise<PlanePki> {
  const paths = planePkiPaths(dataDir);
  const [caCert, caKey, ingressCert, ingressKey] = await Promise.all(
    [paths.caCert, paths.caKey, paths.ingressCert, paths.ingressKey].map(async (file) => {
      try {
        return await fs.readFile(file, 'utf8');
      } catch (err) {
        if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return null;
        throw new PkiError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  if (caCert === null || caKey === null) throw new PlanePkiMissingError(paths);
  if (ingressCert === null || ingressKey === null) {
    throw new PkiError(`the plane's PKI is incomplete (${paths.ingressCert} or its key is missing): run \`hostplane pki init --force\``);
  }
  return { paths, ca: { certPem: caCert, keyPem: caKey }, ingress: { certPem: ingressCert, keyPem: ingressKey } };
}
