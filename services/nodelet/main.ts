import './jit-tuning'; // first: before any other module is compiled
import { Logger } from '#logging';
import { stopWithParent } from '../../libs/lifetime';
import { loadNodeletEnv, NodeletEnvError } from './nodelet.config';
import { NodeletDaemon } from './nodelet.daemon';

// pf9-nodelet: phased, self-healing configuration of a Kubernetes node.
export async function runDaemon(): Promise<void> {
  const env = loadNodeletEnv();
  const logger = new Logger('nodelet', env.logLevel);
  // First: a parent gone while nodelet starts must not leave it running.
  if (env.stopWithParent) stopWithParent((message) => logger.warn(message));
  const daemon = new NodeletDaemon(env, logger);
  await daemon.start();
  const stop = (): void => {
    logger.info('stopping: phases are left as they are');
    // A phase under way is let finish for a while; one that takes longer is picked up at the next start.
    void Promise.race([daemon.stop(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]).then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  runDaemon().catch((err: unknown) => {
    const message = err instanceof NodeletEnvError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`pf9-nodelet: cannot start: ${message}\n`);
    process.exit(1);
  });
}

