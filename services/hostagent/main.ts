import { stopWithParent } from '../../libs/lifetime';
import { startHostagent } from './hostagent.app';
import { ConfigError, loadHostagentConfig } from './config/hostagent.config';
import { guardUnhandledRejections, Logger } from '#logging';

guardUnhandledRejections(new Logger('hostagent'));

async function main(): Promise<void> {
  // First: a parent gone while the agent starts (registration can take a while) must not leave it running.
  if (loadHostagentConfig(process.env).stopWithParent) stopWithParent((message) => process.stderr.write(`hostagent: ${message}\n`));
  await startHostagent(process.env);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`hostagent: cannot start: ${message}\n`);
  process.exit(1);
});
