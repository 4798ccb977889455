import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's openssl (another one first on PATH may behave differently). */
const OPENSSL = '/usr/bin/openssl';

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * Certificates for the tunnel tests, made with the openssl CLI in a temp dir: a CA and what
 * it signs (a server certificate for localhost and 127.0.0.1, one for the wrong name, a
 * host certificate naming urn:pf9:host:<hostId>, an expired one), and a second CA with a
 * server and a host certificate of its own. Tests only: the plane's PKI is libs/pki's job.
 */
export interface TestCerts {
  dir: string;
  hostId: string;
  ca: CertFiles;
  server: CertFiles;
  /** Another server certificate for localhost from the same CA (a renewal). */
  renewedServer: CertFiles;
  wrongNameServer: CertFiles;
  host: CertFiles;
  expiredHost: CertFiles;
  /** Signed by the CA for client use, but naming no host (a CN, no urn:pf9:host: URI). */
  anonymousClient: CertFiles;
  foreignCa: CertFiles;
  foreignServer: CertFiles;
  foreignHost: CertFiles;
}

export async function createTestCerts(hostId: string = randomUUID()): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'hostplane-certs-'));
  const ca = await createCa(dir, 'ca', 'hostplane test CA');
  const foreignCa = await createCa(dir, 'foreign-ca', 'some other CA');
  const server = { subjectAltName: 'DNS:localhost,IP:127.0.0.1', extendedKeyUsage: 'serverAuth' };
  const host = { subjectAltName: `URI:urn:pf9:host:${hostId}`, extendedKeyUsage: 'clientAuth' };
  return {
    dir,
    hostId,
    ca,
    server: await issue(dir, 'ca', 'server', 'localhost', server),
    renewedServer: await issue(dir, 'ca', 'renewed-server', 'localhost', server),
    wrongNameServer: await issue(dir, 'ca', 'wrong-name-server', 'wrong.example', { subjectAltName: 'DNS:wrong.example', extendedKeyUsage: 'serverAuth' }),
    host: await issue(dir, 'ca', 'host', hostId, host),
    expiredHost: await issue(dir, 'ca', 'expired-host', hostId, host, { start: '20200101000000Z', end: '20200201000000Z' }),
    anonymousClient: await issue(dir, 'ca', 'anonymous-client', hostId, { subjectAltName: 'DNS:client.example', extendedKeyUsage: 'clientAuth' }),
    foreignCa,
    foreignServer: await issue(dir, 'foreign-ca', 'foreign-server', 'localhost', server),
    foreignHost: await issue(dir, 'foreign-ca', 'foreign-host', hostId, host),
  };
}

async function createCa(dir: string, name: string, commonName: string): Promise<CertFiles> {
  const caDir = join(dir, name);
  await mkdir(join(caDir, 'issued'), { recursive: true });
  await writeFile(join(caDir, 'index.txt'), '');
  const files = { cert: join(caDir, 'ca.crt'), key: join(caDir, 'ca.key') };
  await writeFile(
    join(caDir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${join(caDir, 'index.txt')}`,
      `new_certs_dir = ${join(caDir, 'issued')}`,
      `certificate = ${files.cert}`,
      `private_key = ${files.key}`,
      'rand_serial = yes',
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'email_in_dn = no',
      '[policy_any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  // prettier-ignore
  await openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', files.key, '-out', files.cert, '-days', '3650', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return files;
}

async function issue(
  dir: string,
  caName: string,
  name: string,
  commonName: string,
  extensions: Record<string, string>,
  validity: { start: string; end: string } | { days: number } = { days: 30 },
): Promise<CertFiles> {
  const caDir = join(dir, caName);
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, Object.entries({ basicConstraints: 'CA:FALSE', keyUsage: 'digitalSignature', ...extensions }).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.key, '-out', csr, '-subj', `/CN=${commonName}`]);
  const dates = 'days' in validity ? ['-days', String(validity.days)] : ['-startdate', validity.start, '-enddate', validity.end];
  await openssl(['ca', '-batch', '-notext', '-config', join(caDir, 'ca.cnf'), '-in', csr, '-out', files.cert, '-extfile', ext, ...dates]);
  return files;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run(OPENSSL, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`);
  }
}
