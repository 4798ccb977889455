import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { Logger } from '#logging';
import { writeFileAtomic } from './atomic-file';
import { listenControl, requestControl, SocketBusyError, type ControlAnswer, type ControlRequest } from './control-socket';
import { findEtcdTools, restoreSnapshot } from './etcd-backup';
import { loadNodeletEnv, type NodeletEnv } from './nodelet.config';
import { nodeletPaths } from './nodelet.paths';
import { NodeletService } from './nodelet.service';
import { describeProblem, NodeConfigError, type NodeConfig } from './node-config';
import { loadNodeConfig, parseNodeConfig } from './node-config.files';
import { phasesFor, PhaseCatalogError, readPhaseCatalog } from './phase-catalog';
import { parseStatus, type KubeStatus } from './status-file';

const USAGE = `nodeletd: phased configuration of a Kubernetes node (PF9_ROOT: the host's files, default /)

  nodeletd [daemon]                         run the daemon
  nodeletd phases list                      the phases and their numbers
  nodeletd phases status                    run every status check now
  nodeletd phases start   [--from-phase N] [--single]
  nodeletd phases stop    [--till-phase N] [--force] [--single]
  nodeletd phases restart [--from-phase N] [--regen-certs]
  nodeletd etcd-backup now                  a verified etcd snapshot now
  nodeletd etcd-backup restore FILE --data-dir DIR [--name NAME] [--peer-url URL] [--initial-cluster C]
  nodeletd state                            the node state (exit 0 when ok)
  nodeletd wait-ready [--timeout S]         wait until the configuration in force has settled
  nodeletd config apply --file NAME         JSON object on stdin -> etc/pf9/nodelet/NAME (validated)
  nodeletd config get --file NAME           that file as JSON (null when absent or unreadable)
  nodeletd reset                            stop every phase in reverse and remove nodelet's state

N is 1-based in the listed order; 0 means all. While the daemon runs, every command acts
through it (its control socket); otherwise the command holds that socket while it runs.
--json prints the raw answer.`;

export class UsageError extends Error {}

interface Parsed {
  words: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--from-phase', '--till-phase', '--timeout', '--file', '--data-dir', '--name', '--peer-url', '--initial-cluster']);
const SHORT = new Map([['-p', '--from-phase']]);

export function parseArgs(argv: string[]): Parsed {
  const words: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg : arg.slice(0, eq);
    name = SHORT.get(name) ?? name;
    if (VALUE_FLAGS.has(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      flags.set(name, value);
    } else {
      if (eq !== -1) throw new UsageError(`${name} takes no value`);
      flags.set(name, true);
    }
  }
  return { words, flags };
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: () => Promise<string>;
}

const KNOWN_FLAGS: Record<string, string[]> = {
  'phases list': ['--json'],
  'phases status': ['--json', '--verbose', '-v'],
  'phases start': ['--json', '--from-phase', '--single', '--verbose', '-v'],
  'phases stop': ['--json', '--till-phase', '--force', '--single', '--verbose', '-v'],
  'phases restart': ['--json', '--from-phase', '--regen-certs', '--verbose', '-v'],
  'etcd-backup now': ['--json'],
  'etcd-backup restore': ['--data-dir', '--name', '--peer-url', '--initial-cluster'],
  state: ['--json'],
  'wait-ready': ['--timeout'],
  'config apply': ['--file'],
  'config get': ['--file'],
  reset: ['--json'],
};

/** Runs one command; answers the exit code. */
export async function runCli(argv: string[], io: CliIo, envVars: Record<string, string | undefined> = process.env): Promise<number> {
  let args: Parsed;
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.stderr(`nodeletd: ${(err as Error).message}\n`);
    return 2;
  }
  if (args.flags.has('--help') || args.flags.has('-h') || args.words[0] === 'help') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const env = loadNodeletEnv(envVars);
  const [first, second] = args.words;
  const command = first === 'phases' || first === 'etcd-backup' || first === 'config' ? `${first} ${second ?? ''}`.trim() : (first ?? '');
  const known = KNOWN_FLAGS[command];
  if (!known) {
    io.stderr(`nodeletd: unknown command '${args.words.join(' ')}'\n\n${USAGE}\n`);
    return 2;
  }
  for (const flag of args.flags.keys()) {
    if (!known.includes(flag)) {
      io.stderr(`nodeletd ${command}: unknown option ${flag}\n`);
      return 2;
    }
  }
  const json = args.flags.has('--json');
  try {
    switch (command) {
      case 'phases list':
        return printList(await act(env, { cmd: 'phases.list' }), io, json);
      case 'phases status':
        return printPhases(await act(env, { cmd: 'phases.status' }), io, json, true);
      case 'phases start':
        return printPhases(await act(env, { cmd: 'phases.start', fromPhase: phaseNumber(args, '--from-phase'), single: args.flags.has('--single') }), io, json);
      case 'phases stop':
        return printPhases(
          await act(env, { cmd: 'phases.stop', tillPhase: phaseNumber(args, '--till-phase'), force: args.flags.has('--force'), single: args.flags.has('--single') }),
          io,
          json,
        );
      case 'phases restart':
        return printPhases(await act(env, { cmd: 'phases.restart', fromPhase: phaseNumber(args, '--from-phase'), regenCerts: args.flags.has('--regen-certs') }), io, json);
      case 'reset':
        return printPhases(await act(env, { cmd: 'reset' }), io, json);
      case 'etcd-backup now':
        return printAnswer(await act(env, { cmd: 'etcd-backup.now' }), io, json, (r) => {
          const info = r as { file: string; sizeBytes: number; revision: number };
          return `snapshot ${info.file} (${info.sizeBytes} bytes, revision ${info.revision}) taken and verified\n`;
        });
      case 'etcd-backup restore':
        return await restore(env, args, io);
      case 'state':
        return await state(env, io, json);
      case 'wait-ready':
        return await waitReady(env, args, io);
      case 'config apply':
        return await configApply(env, args, io);
      case 'config get':
        return await configGet(env, args, io);
    }
  } catch (err) {
    io.stderr(`nodeletd: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  return 2;
}

function phaseNumber(args: Parsed, flag: string): number {
  const value = args.flags.get(flag);
  if (value === undefined) return 0;
  if (value === true || !/^\d+$/.test(value)) throw new UsageError(`${flag} takes a phase number (0 for all; see nodeletd phases list)`);
  return Number(value);
}

/**
 * Sends `request` to the daemon; with none running, takes the control socket itself
 * (so that a daemon starting meanwhile waits) and does the same work in this process.
 */
export async function act(env: NodeletEnv, request: ControlRequest): Promise<ControlAnswer> {
  const socket = nodeletPaths(env.root).controlSocket;
  for (;;) {
    const answer = await requestControl(socket, request);
    if (answer !== null) return answer;
    let lock;
    try {
      lock = await listenControl(socket, async () => ({ ok: false, error: 'a nodeletd command holds the node; try again when it is done' }));
    } catch (err) {
      if (err instanceof SocketBusyError) continue; // a daemon (or another command) came up meanwhile: ask it
      throw err;
    }
    const service = new NodeletService(env, new Logger('nodeletd', 'warn', process.stderr), undefined, loadNodeConfig);
    try {
      await service.open();
      await service.serial('configuration', () => service.applyConfig('start'));
      return await service.handle(request);
    } finally {
      await service.close();
      await lock.close();
    }
  }
}

function printAnswer(answer: ControlAnswer, io: CliIo, json: boolean, text: (result: unknown) => string): number {
  if (json) {
    io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
    return answer.ok ? 0 : 1;
  }
  if (!answer.ok) {
    io.stderr(`nodeletd: ${answer.error}\n`);
    return 1;
  }
  io.stdout(text(answer.result));
  return 0;
}

function printList(answer: ControlAnswer, io: CliIo, json: boolean): number {
  return printAnswer(answer, io, json, (r) => {
    const { phases } = r as { phases: Array<{ index: number; order: number; name: string; file: string }> };
    return table(['#', 'ORDER', 'NAME', 'FILE'], phases.map((p) => [String(p.index), String(p.order), p.name, p.file]));
  });
}

function printPhases(answer: ControlAnswer, io: CliIo, json: boolean, statusCommand = false): number {
  if (json) {
    io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
    return answer.ok && (!statusCommand || (answer.result as { running?: boolean }).running === true) ? 0 : 1;
  }
  const result = answer.result as { status?: KubeStatus; running?: boolean; busy?: string | null; message?: string } | undefined;
  if (result?.status) io.stdout(renderStatus(result.status));
  if (!answer.ok) {
    io.stderr(`nodeletd: ${answer.error}\n`);
    return 1;
  }
  if (!statusCommand) {
    if (result?.message) io.stdout(`${result.message}\n`);
    return 0;
  }
  if (result?.busy) io.stdout(`nodelet is busy (${result.busy}): the phases as it last saw them\n`);
  io.stdout(result?.running ? 'Platform9 Kubernetes stack is running\n' : 'Platform9 Kubernetes stack is not running\n');
  return result?.running ? 0 : 1;
}

export function renderStatus(status: KubeStatus): string {
  const head =
    `Node state: ${status.pf9_kube_node_state}   service: ${status.pf9_kube_service_state === 'true' ? 'running' : 'not running'}` +
    `   role: ${status.pf9_cluster_role || '-'}   cluster: ${status.pf9_cluster_id || '-'}   attempt: ${status.pf9_kube_start_attempt}` +
    (status.nodelet_hold ? '   (held: run phases start to resume)' : '') +
    '\n' +
    (status.nodelet_config_error ? `Configuration refused: ${status.nodelet_config_error}\n` : '');
  const rows = status.phases.map((p, i) => [String(i + 1), String(p.order), p.name, p.state, String(p.attempts), (p.message.split('\n').pop() ?? '').slice(0, 80)]);
  return head + table(['#', 'ORDER', 'NAME', 'STATE', 'ATTEMPTS', 'LAST MESSAGE'], rows);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** The node state, from the daemon or (with none running) the status file; exit 0 when ok or nothing is asked of the node. */
async function state(env: NodeletEnv, io: CliIo, json: boolean): Promise<number> {
  const paths = nodeletPaths(env.root);
  const answer = await requestControl(paths.controlSocket, { cmd: 'state' });
  let view: { status: KubeStatus | null; configError: string | null; kubeServiceState: string | null; configured: boolean; hold: string; daemon: boolean };
  if (answer?.ok) {
    const r = answer.result as { status: KubeStatus; configError: string | null; kubeServiceState: string | null; configured: boolean; hold: string };
    view = { ...r, daemon: true };
  } else {
    const text = await fs.readFile(paths.statusFile, 'utf8').catch(() => undefined);
    const status = text === undefined ? null : parseStatus(text);
    view = {
      status,
      configError: status?.nodelet_config_error ?? null,
      kubeServiceState: status?.nodelet_kube_service_state ?? null,
      configured: status !== null,
      hold: status?.nodelet_hold ? 'manual' : 'none',
      daemon: false,
    };
  }
  // After a reset the node holds no state and nothing is asked of it until a new configuration.
  const nodeState = view.status && view.configured && view.hold !== 'reset' ? view.status.pf9_kube_node_state : 'none';
  const healthy = view.configError === null && view.hold !== 'manual' && (nodeState === 'ok' || nodeState === 'none' || view.kubeServiceState === 'ignore');
  if (json) io.stdout(`${JSON.stringify({ nodeState, healthy, ...view }, null, 2)}\n`);
  else io.stdout(`${nodeState}${view.configError ? ` (configuration refused: ${view.configError})` : ''}${view.hold === 'manual' ? ' (held)' : ''}${view.daemon ? '' : ' (nodelet is not running)'}\n`);
  return healthy ? 0 : 1;
}

/** Waits until the daemon ran its loop with the configuration in force, then answers by the node state. */
async function waitReady(env: NodeletEnv, args: Parsed, io: CliIo): Promise<number> {
  const timeoutText = args.flags.get('--timeout');
  const timeoutS = timeoutText === undefined ? 540 : Number(timeoutText);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout takes a number of seconds');
  const socket = nodeletPaths(env.root).controlSocket;
  const deadline = Date.now() + timeoutS * 1000;
  let target: number | null = null;
  for (;;) {
    const answer = await requestControl(socket, { cmd: 'state' });
    if (answer === null) {
      io.stderr('nodeletd: nodelet is not running (start it: systemctl start pf9-nodeletd)\n');
      return 1;
    }
    if (!answer.ok) throw new Error(answer.error);
    const view = answer.result as { status: KubeStatus; configGeneration: number; settledGeneration: number; configError: string | null; kubeServiceState: string | null; hold: string };
    target ??= view.configGeneration;
    if (view.configError) {
      io.stderr(`nodeletd: the configuration is refused: ${view.configError}\n`);
      return 1;
    }
    if (view.hold !== 'none') {
      io.stderr(`nodeletd: the node is held (${view.hold === 'manual' ? 'phases stop' : 'reset'}): phases start resumes it\n`);
      return 1;
    }
    if (view.settledGeneration >= target) {
      const nodeState = view.status.pf9_kube_node_state;
      if (view.kubeServiceState === 'ignore' || view.kubeServiceState === null || nodeState === 'ok') {
        io.stdout(`${view.kubeServiceState === 'ignore' ? 'ignore' : nodeState}\n`);
        return 0;
      }
      if (nodeState === 'failed') {
        io.stderr(`nodeletd: the node failed: ${view.status.last_failed_task || view.status.last_failed_status_check} (attempt ${view.status.pf9_kube_start_attempt}; nodelet keeps trying)\n`);
        return 1;
      }
    }
    if (Date.now() > deadline) {
      io.stderr(`nodeletd: still ${view.status.pf9_kube_node_state} after ${timeoutS} s (attempt ${view.status.pf9_kube_start_attempt}; nodelet keeps trying)\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function configFileName(args: Parsed): string {
  const file = args.flags.get('--file');
  if (typeof file !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$/.test(file)) throw new UsageError('--file takes a file name ending in .yaml or .yml (inside etc/pf9/nodelet)');
  return file;
}

export const ROLE_FILE_HEADER = '# Written by the pf9-kube role from the plane\'s configuration: a hand edit is put back.\n';

/** Writes a JSON object (stdin) as etc/pf9/nodelet/NAME after checking the whole configuration with it; tells the daemon. */
async function configApply(env: NodeletEnv, args: Parsed, io: CliIo): Promise<number> {
  const name = configFileName(args);
  const paths = nodeletPaths(env.root);
  let value: unknown;
  try {
    value = JSON.parse(await io.stdin());
  } catch {
    throw new UsageError('config apply reads a JSON object on standard input');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('config apply reads a JSON object on standard input');
  const object = value as Record<string, unknown>;
  const text = ROLE_FILE_HEADER + (Object.keys(object).length === 0 ? '{}\n' : stringify(Object.fromEntries(Object.keys(object).sort().map((k) => [k, object[k]]))));
  const target = join(paths.configDir, name);
  const others = (await fs.readdir(paths.configDir).catch(() => [] as string[])).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('.') && n !== name);
  const sources = await Promise.all(others.map(async (n) => ({ file: join(paths.configDir, n), text: await fs.readFile(join(paths.configDir, n), 'utf8') })));
  sources.push({ file: target, text });
  sources.sort((a, b) => (basename(a.file) < basename(b.file) ? -1 : 1));
  let merged: NodeConfig;
  try {
    merged = parseNodeConfig(sources, { phasesDir: env.defaultPhasesDir, etcdBackupDir: paths.defaultEtcdBackupDir });
    phasesFor(await readPhaseCatalog(merged.phasesDir), merged.role);
  } catch (err) {
    if (err instanceof NodeConfigError) throw new Error(`the configuration is refused, nothing written: ${err.problems.map(describeProblem).join('; ')}`);
    if (err instanceof PhaseCatalogError) throw new Error(`the configuration is refused, nothing written: ${err.message.replace(/\n\s*/g, ' ')}`);
    throw err;
  }
  await writeFileAtomic(target, text, 0o600);
  const answer = await requestControl(paths.controlSocket, { cmd: 'reload', release: true });
  if (answer === null) {
    io.stdout(`wrote ${target} (nodelet is not running: it reads it when it starts)\n`);
    return 0;
  }
  if (!answer.ok) {
    io.stderr(`nodeletd: wrote ${target}, but nodelet refused it: ${answer.error}\n`);
    return 1;
  }
  io.stdout(`wrote ${target}; nodelet applied it\n`);
  return 0;
}

async function configGet(env: NodeletEnv, args: Parsed, io: CliIo): Promise<number> {
  const name = configFileName(args);
  const file = join(nodeletPaths(env.root).configDir, name);
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  let value: unknown = null;
  if (text !== undefined) {
    const doc = parseDocument(text, { uniqueKeys: true });
    const parsed: unknown = doc.errors.length === 0 ? (doc.toJS({ maxAliasCount: 16 }) ?? {}) : null;
    // Only a mapping is a configuration; anything else reads as none, which differs from any desired one.
    value = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : null;
  }
  io.stdout(`${JSON.stringify(value)}\n`);
  return 0;
}

async function restore(env: NodeletEnv, args: Parsed, io: CliIo): Promise<number> {
  const file = args.words[2];
  const dataDir = args.flags.get('--data-dir');
  if (file === undefined || typeof dataDir !== 'string') throw new UsageError('etcd-backup restore FILE --data-dir DIR');
  const paths = nodeletPaths(env.root);
  let configEnv: Record<string, string> = {};
  try {
    configEnv = (await loadNodeConfig(paths.configDir, { phasesDir: env.defaultPhasesDir, etcdBackupDir: paths.defaultEtcdBackupDir })).env;
  } catch {
    // Restoring needs no valid configuration: the flags and defaults do.
  }
  const flag = (name: string): string | undefined => {
    const v = args.flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const name = flag('--name') ?? configEnv.ETCD_NAME ?? hostname();
  const peerUrl = flag('--peer-url') ?? configEnv.ETCD_INITIAL_ADVERTISE_PEER_URLS ?? 'http://127.0.0.1:2380';
  const initialCluster = flag('--initial-cluster') ?? configEnv.ETCD_INITIAL_CLUSTER ?? `${name}=${peerUrl}`;
  await restoreSnapshot(file, dataDir, findEtcdTools(env.etcdctl), { name, peerUrl, initialCluster });
  io.stdout(`restored ${file} into ${dataDir} (member ${name}, ${peerUrl})\n`);
  return 0;
}
