import { stopWithParent } from '../../libs/lifetime';
import { tuneHeapForStreaming } from '../../libs/tunnel';
import { startComms } from './comms.app';
import { ConfigError, loadCommsConfig } from './comms.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('comms'));

// pf9-comms: the host's local AMQP/HTTP/join ports, each connection tunnelled to the plane over TLS.
async function main(): Promise<void> {
  tuneHeapForStreaming();
  const config = loadCommsConfig();
  // First: a parent gone while comms starts must not leave it running.
  if (config.stopWithParent) stopWithParent((message) => process.stderr.write(`pf9-comms: ${message}\n`));
  const comms = await startComms(config);
  const stop = (): void => {
    void comms.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`pf9-comms: cannot start: ${message}\n`);
  process.exit(1);
});
