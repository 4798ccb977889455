import { join } from 'node:path';
import { PkiFiles } from '#contracts';
import { ensurePrivateDir, securePrivateFile, type FileOwner } from '#private-fs';

/**
 * Who owns what the agent keeps under PF9_ROOT. etc/pf9/certs holds the host's key and
 * certificates, which pf9-comms reads: the folder and its files belong to comms's user
 * (PF9_COMMS_USER; the agent's own when unset) and are closed to everyone else. The host's
 * broker password (etc/pf9/broker.json) and var/lib/pf9/hostagent (the desired state with
 * the roles' configs, the outbox of reports) are the agent's alone. host_id.conf is not a
 * secret: the host's certificate names the host too.
 */
export const HostFileModes = {
  certsDir: 0o700,
  key: 0o600,
  /** Certificates are public; their folder is closed all the same. */
  cert: 0o644,
  broker: 0o600,
  stateDir: 0o700,
  state: 0o600,
  outboxDir: 0o700,
  outboxEntry: 0o600,
  hostId: 0o644,
  /** The plane's broker user: not a secret, the agent's to change. */
  planeFacts: 0o644,
} as const;

/** Where a host keeps its identity material, under PF9_ROOT (PkiFiles.host). */
export interface HostCertificateFiles {
  dir: string;
  cert: string;
  key: string;
  caCert: string;
  broker: string;
  /** When the certificate was put in place, by this host's clock (certificate-receipt.ts). */
  receipt: string;
  /** What the plane said about itself: its broker user (registration.ts PlaneFacts). */
  plane: string;
}

export function hostCertificateFiles(root: string): HostCertificateFiles {
  const h = PkiFiles.host;
  return {
    dir: join(root, h.dir),
    cert: join(root, h.cert),
    key: join(root, h.key),
    caCert: join(root, h.caCert),
    broker: join(root, h.broker),
    receipt: join(root, 'var/lib/pf9/hostagent/certificate-receipt.json'),
    plane: join(root, h.plane),
  };
}

/** Where a renewal keeps its new key and request, and the new certificate, until they are in place. */
export function pendingRenewalFiles(files: HostCertificateFiles): { key: string; csr: string; cert: string } {
  return { key: `${files.key}.next`, csr: `${files.cert}.next.csr`, cert: `${files.cert}.next` };
}

/** The agent's own state: the desired and installed roles, the outbox. */
export function hostStateFiles(root: string): { dir: string; state: string; outbox: string } {
  const dir = join(root, 'var/lib/pf9/hostagent');
  return { dir, state: join(dir, 'state.json'), outbox: join(dir, 'outbox') };
}

/** This process's user, which owns what is the agent's alone. */
export function agentOwner(): FileOwner {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/**
 * Gives what is already on disk the owners and modes above, at every start: files written by
 * hand (the plane's CA that an operator put in etc/pf9/certs) or by an older agent. Links
 * planted in place of a file are refused, never followed.
 */
export async function secureHostFiles(root: string, commsOwner: FileOwner | undefined): Promise<void> {
  const files = hostCertificateFiles(root);
  const pending = pendingRenewalFiles(files);
  const self = agentOwner();
  const comms = commsOwner ?? self;
  await ensurePrivateDir(files.dir, HostFileModes.certsDir, comms);
  for (const key of [files.key, pending.key]) await securePrivateFile(key, HostFileModes.key, comms);
  for (const cert of [files.cert, files.caCert, pending.cert, pending.csr]) await securePrivateFile(cert, HostFileModes.cert, comms);
  await securePrivateFile(files.broker, HostFileModes.broker, self);
  const state = hostStateFiles(root);
  await ensurePrivateDir(state.dir, HostFileModes.stateDir, self);
  await securePrivateFile(state.state, HostFileModes.state, self);
}
