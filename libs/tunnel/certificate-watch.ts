import type { LogFields, Logger } from '#logging';
import { errorMessage } from './failure-cause';

export interface CertificateWatch {
  /** Looks at the files now; true when new ones were put in use. */
  reloadNow(): boolean;
  stop(): void;
}

/**
 * A TLS server's certificate files, looked at every `everyMs` (renewal, rotation): new ones
 * apply to new connections, open ones keep theirs; files that cannot be used are logged and
 * the loaded ones stay in use. `reload` answers undefined when nothing changed and throws
 * when the new files do not work.
 */
export function watchCertificates<T>(options: { reload: () => T | undefined; apply: (tls: T) => void; describe: (tls: T) => LogFields; everyMs: number; logger: Logger }): CertificateWatch {
  const reloadNow = (): boolean => {
    try {
      const tls = options.reload();
      if (tls === undefined) return false;
      options.apply(tls);
      options.logger.info('certificate files changed: new connections use them', options.describe(tls));
      return true;
    } catch (err) {
      options.logger.warn('certificate files changed but cannot be used: the loaded ones stay in use', { reason: errorMessage(err) });
      return false;
    }
  };
  const timer = setInterval(reloadNow, options.everyMs);
  timer.unref();
  return { reloadNow, stop: () => clearInterval(timer) };
}
