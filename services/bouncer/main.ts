import { guardUnhandledRejections, Logger } from '#logging';
import { startBouncer } from './bouncer.app';
import { ConfigError, loadBouncerConfig } from './bouncer.config';

guardUnhandledRejections(new Logger('bouncer'));

// pf9-bouncer: kube-apiserver's webhook token authenticator, backed by the plane's operator tokens.
async function main(): Promise<void> {
  const bouncer = await startBouncer(loadBouncerConfig());
  const stop = (): void => {
    void bouncer.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`pf9-bouncer: cannot start: ${message}\n`);
  process.exit(1);
});
