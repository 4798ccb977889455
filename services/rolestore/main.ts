import { startRolestore } from './rolestore.app';
import { ConfigError } from './config/rolestore.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('rolestore'));

startRolestore(process.env).catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`rolestore: cannot start: ${message}\n`);
  process.exit(1);
});
