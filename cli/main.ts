import 'reflect-metadata'; // class-transformer's decorators in #contracts need it loaded first
import { runCli } from './cli';
import { readCliEnv } from './cli.config';

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: readCliEnv(),
  cwd: process.cwd(),
}).then((code) => {
  // exitCode, not exit(): lets piped stdout drain first.
  process.exitCode = code;
});
