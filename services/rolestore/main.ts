import { stopWithParent } from '../../libs/lifetime';
import { startRolestore } from './rolestore.app';
import { ConfigError, loadRolestoreConfig } from './config/rolestore.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('rolestore'));

async function main(): Promise<void> {
  // First: a parent gone while the role store starts must not leave it running.
  if (loadRolestoreConfig(process.env).stopWithParent) stopWithParent((message) => process.stderr.write(`rolestore: ${message}\n`));
  await startRolestore(process.env);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`rolestore: cannot start: ${message}\n`);
  process.exit(1);
});
