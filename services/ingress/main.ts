import { stopWithParent } from '../../libs/lifetime';
import { tuneHeapForStreaming } from '../../libs/tunnel';
import { startIngress } from './ingress.app';
import { ConfigError, loadIngressConfig } from './ingress.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('ingress'));

// The plane's ingress: TLS on one port, each connection routed by ALPN to its backend.
async function main(): Promise<void> {
  tuneHeapForStreaming();
  const config = loadIngressConfig();
  // First: a parent gone while the ingress starts must not leave it running.
  if (config.stopWithParent) stopWithParent((message) => process.stderr.write(`ingress: ${message}\n`));
  const ingress = await startIngress(config);
  const stop = (): void => {
    void ingress.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The usual signal to read certificates again (they are also looked at every PF9_INGRESS_CERT_RECHECK_MS).
  process.on('SIGHUP', () => ingress.reloadCertificates());
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`ingress: cannot start: ${message}\n`);
  process.exit(1);
});
