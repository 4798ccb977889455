import './jit-tuning'; // first: before any other module is compiled
import { runDaemon } from './main';
import { NodeletEnvError } from './nodelet.config';
import { runCli } from './nodeletd';

// `nodeletd`: the daemon with no arguments (as Platform9's), the command line otherwise.
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv[0] === 'daemon') {
    await runDaemon();
    return;
  }
  if (argv[0] === '--version') {
    process.stdout.write('nodeletd 0.1.0\n');
    return;
  }
  // exitCode, not exit(): lets piped stdout drain first.
  process.exitCode = await runCli(argv, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
}

main().catch((err: unknown) => {
  const message = err instanceof NodeletEnvError ? err.message : err instanceof Error ? err.message : String(err);
  process.stderr.write(`nodeletd: ${message}\n`);
  process.exit(1);
});
