import { stat } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { loadPlanePki, planePkiPaths, PkiError, type CertifiedKey } from '#pki';
import { RolestoreConfig } from '../config/rolestore.config';

/** The join cannot work now (no PKI yet): 503, and the message says what to do. */
export class JoinUnavailableError extends Error {
  override readonly name = 'JoinUnavailableError';
}

/**
 * The plane's CA, read from PF9_DATA_DIR/pki when first needed and again whenever its
 * files change, so that `hostplane pki init` takes effect without restarting the role store.
 */
@Injectable()
export class PlanePkiSource {
  private cached: { ca: CertifiedKey; stamp: string } | null = null;
  private readonly dataDir: string;

  constructor(@Inject(RolestoreConfig) config: Pick<RolestoreConfig, 'dataDir'>) {
    this.dataDir = config.dataDir;
  }

  /** Where the plane's list of revoked host certificates goes (the ingress reads it). */
  get crlFile(): string {
    return planePkiPaths(this.dataDir).hostCrl;
  }

  async ca(): Promise<CertifiedKey> {
    const stamp = await this.stamp();
    if (this.cached && this.cached.stamp === stamp) return this.cached.ca;
    try {
      const { ca } = await loadPlanePki(this.dataDir);
      this.cached = { ca, stamp };
      return ca;
    } catch (err) {
      if (err instanceof PkiError) throw new JoinUnavailableError(`registration is not possible yet: ${err.message}`);
      throw err;
    }
  }

  /** Modification times of the CA's files: cheap to read on every join. */
  private async stamp(): Promise<string> {
    const paths = planePkiPaths(this.dataDir);
    const times = await Promise.all(
      [paths.caCert, paths.caKey].map((file) =>
        stat(file).then(
          (s) => `${s.mtimeMs}:${s.size}`,
          () => 'missing',
        ),
      ),
    );
    return times.join('|');
  }
}
