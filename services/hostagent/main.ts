import { startHostagent } from './hostagent.app';
import { ConfigError } from './config/hostagent.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('hostagent'));

startHostagent(process.env).catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`hostagent: cannot start: ${message}\n`);
  process.exit(1);
});
