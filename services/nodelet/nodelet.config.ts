import { isAbsolute, resolve } from 'node:path';
import { parseHostPort, type Endpoint } from '../../libs/tunnel/endpoint-list';
import { parseLogLevel, type LogLevel } from '#logging';
import { SHIPPED_PHASES_DIR } from './nodelet.paths';
import { readStopWithParent, STOP_WITH_PARENT_VARIABLE } from '../../libs/lifetime';

/** nodelet's own environment (the node's configuration is in YAML files, see node-config.ts). */
export interface NodeletEnv {
  root: string;
  logLevel: LogLevel;
  /** `/healthz` and `/metrics`. */
  admin: Endpoint;
  /** Where cgroup hierarchies are mounted (v1: cpu/, cpuacct/; v2: the unified root). */
  cgroupRoot: string;
  /** How often the configuration folder is looked at for changes. */
  configPollMs: number;
  /** PHASES_DIR when no file sets it. */
  defaultPhasesDir: string;
  etcdctl: string;
  /** PF9_STOP_WITH_PARENT=1: stop when the pipe on standard input ends (the all-in-one that started nodelet is gone). */
  stopWithParent: boolean;
}

export class NodeletEnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid nodelet environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'NodeletEnvError';
  }
}

/** Read here and nowhere else; every bad variable is reported at once. */
export function loadNodeletEnv(env: Record<string, string | undefined> = process.env): NodeletEnv {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const logLevelText = value('PF9_LOG_LEVEL');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevelText !== undefined && logLevel !== logLevelText) problems.push(`PF9_LOG_LEVEL: '${logLevelText}' is not one of debug, info, warn, error`);
  const admin = parseHostPort(value('PF9_NODELET_ADMIN') ?? '127.0.0.1:9095', { allowPortZero: true });
  if (!admin.ok) problems.push(...admin.problems.map((p) => `PF9_NODELET_ADMIN: ${p}`));
  const pollText = value('PF9_NODELET_CONFIG_POLL_MS');
  const configPollMs = pollText === undefined ? 2000 : Number(pollText);
  if (!Number.isInteger(configPollMs) || configPollMs < 100) problems.push(`PF9_NODELET_CONFIG_POLL_MS: '${pollText}' is not an integer >= 100`);
  const phasesDir = value('PF9_NODELET_PHASES_DIR');
  if (phasesDir !== undefined && !isAbsolute(phasesDir)) problems.push(`PF9_NODELET_PHASES_DIR: '${phasesDir}' is not an absolute path`);
  const stopWithParent = readStopWithParent(env[STOP_WITH_PARENT_VARIABLE]);
  if (!stopWithParent.ok) problems.push(`${STOP_WITH_PARENT_VARIABLE}: ${stopWithParent.problem}`);
  if (problems.length > 0 || !admin.ok || !stopWithParent.ok) throw new NodeletEnvError(problems);
  return {
    root: resolve(value('PF9_ROOT') ?? '/'),
    logLevel,
    admin: admin.value,
    cgroupRoot: resolve(value('PF9_CGROUP_ROOT') ?? '/sys/fs/cgroup'),
    configPollMs,
    defaultPhasesDir: phasesDir ?? SHIPPED_PHASES_DIR,
    etcdctl: value('PF9_ETCDCTL') ?? 'etcdctl',
    stopWithParent: stopWithParent.value,
  };
}
