import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { NodeConfigError, type ConfigDefaults, type ConfigProblem, type NodeConfig } from './node-config';

export type ConfigLoader = (dir: string, defaults: ConfigDefaults) => Promise<NodeConfig>;

const READER = join(__dirname, 'node-config.reader.js');

/**
 * Reads the configuration in a short-lived child process (node-config.reader.ts): the
 * daemon runs for months and idles within its memory budget only without the YAML parser,
 * while the configuration changes seldom. Same answers as loadNodeConfig: the
 * configuration, or NodeConfigError with every problem.
 */
export const readNodeConfigApart: ConfigLoader = (dir, defaults) =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [READER, dir, defaults.phasesDir, defaults.etcdBackupDir],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`cannot read the configuration: ${(stderr || err.message).trim()}`));
          return;
        }
        let answer: { ok: boolean; config?: NodeConfig; problems?: ConfigProblem[] };
        try {
          answer = JSON.parse(stdout) as typeof answer;
        } catch {
          reject(new Error('cannot read the configuration: the reader answered something that is not JSON'));
          return;
        }
        if (answer.ok && answer.config) resolve(answer.config);
        else reject(new NodeConfigError(answer.problems ?? [{ file: dir, key: '', expected: 'a readable configuration' }]));
      },
    );
  });
