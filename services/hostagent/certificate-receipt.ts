import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { CERT_BACKDATE_MS, certificateFacts, type CertificateFacts } from '#pki';
import { ensurePrivateDir, errnoCode, writeFileAtomic } from '#private-fs';
import { HostFileModes } from './host-files';

/**
 * When this host put its certificate in place, by its own clock. The plane dates a
 * certificate by the plane's clock (notBefore is the moment of issue less CERT_BACKDATE_MS),
 * so the two together say how far the host's clock runs ahead of the plane's (or behind),
 * and the certificate's age and expiry can be judged by the plane's time. Without it, a host
 * whose clock runs months ahead finds every fresh certificate due for renewal at once.
 */
interface CertificateReceipt {
  serial: string;
  /** Epoch milliseconds, by the host's clock. */
  receivedAt: number;
}

export async function recordCertificateReceipt(file: string, certPem: string, now: number): Promise<void> {
  const receipt: CertificateReceipt = { serial: certificateFacts(certPem).serial, receivedAt: now };
  await ensurePrivateDir(dirname(file), HostFileModes.stateDir);
  await writeFileAtomic(file, `${JSON.stringify(receipt)}\n`, HostFileModes.state);
}

/**
 * How far the host's clock runs ahead of the plane's (negative: behind), in ms, as measured
 * when this certificate was put in place; 0 when that is not known: no receipt for this very
 * certificate, or one dated after `now` (the clock was set back since, so the measure is stale).
 */
export async function hostClockLead(file: string, facts: CertificateFacts, now: number): Promise<number> {
  const receipt = await readReceipt(file);
  if (receipt === null || receipt.serial !== facts.serial || receipt.receivedAt > now) return 0;
  return receipt.receivedAt - (facts.notBefore.getTime() + CERT_BACKDATE_MS);
}

async function readReceipt(file: string): Promise<CertificateReceipt | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { serial, receivedAt } = parsed as Record<string, unknown>;
    return typeof serial === 'string' && typeof receivedAt === 'number' && Number.isFinite(receivedAt) ? { serial, receivedAt } : null;
  } catch {
    // A damaged record is no record: the certificate is judged by the host's clock alone.
    return null;
  }
}
