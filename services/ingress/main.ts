import { tuneHeapForStreaming } from '../../libs/tunnel';
import { startIngress } from './ingress.app';
import { ConfigError, loadIngressConfig } from './ingress.config';

// The plane's ingress: TLS on one port, each connection routed by ALPN to its backend.
async function main(): Promise<void> {
  tuneHeapForStreaming();
  const ingress = await startIngress(loadIngressConfig());
  const stop = (): void => {
    void ingress.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`ingress: cannot start: ${message}\n`);
  process.exit(1);
});
