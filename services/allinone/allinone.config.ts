import { resolve } from 'node:path';
import { readStopWithParent } from '../../libs/lifetime';
import type { PlannedPort } from './port-check';

/**
 * The all-in-one's own settings. The plane's and the host's own variables are passed on
 * to them as they are; these only say which local ports the pieces meet on.
 */
export interface AllInOneConfig {
  amqpUrl: string;
  dataDir: string;
  hostRoot: string;
  apiPort: number;
  joinPort: number;
  /** The role store's package listener: what the host reaches over `pf9-http`. */
  hostApiPort: number;
  ingressPort: number;
  ingressAdminPort: number;
  /** pf9-comms's health and metrics (the agent reaches comms itself on Unix sockets under PF9_ROOT). */
  commsAdminPort: number;
  agentMetricsPort: number;
  /** nodelet's /healthz and /metrics. */
  nodeletAdminPort: number;
  readyTimeoutMs: number;
  /** The operator token the all-in-one acts with (HOSTPLANE_TOKEN); unset: the plane's first admin token, from <PF9_DATA_DIR>/admin.token. */
  operatorToken?: string;
  /** Starts the local rabbitmq-server when nothing answers at AMQP_URL (loopback only). */
  startLocalBroker: boolean;
  /** PF9_STOP_WITH_PARENT=1 (set by `npm start`): stop when the pipe on standard input ends. */
  stopWithParent: boolean;
  /** Insecure: run without a broker user per host when the management API cannot be had (passed on to the plane). */
  insecureSharedBrokerUser?: string;
}

export function loadAllInOneConfig(env: Record<string, string | undefined>): AllInOneConfig {
  const port = (name: string, fallback: number): number => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new Error(`${name} must be a port number, not '${env[name]}'`);
    return value;
  };
  const stopWithParent = readStopWithParent(env.PF9_STOP_WITH_PARENT);
  if (!stopWithParent.ok) throw new Error(`PF9_STOP_WITH_PARENT: ${stopWithParent.problem}`);
  return {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    dataDir: resolve(env.PF9_DATA_DIR ?? './.data/plane'),
    hostRoot: resolve(env.PF9_ROOT ?? './.data/host'),
    apiPort: port('PF9_API_PORT', 8080),
    joinPort: port('PF9_JOIN_PORT', 8079),
    hostApiPort: port('PF9_HOST_API_PORT', 8078),
    ingressPort: port('PF9_INGRESS_PORT', 8443),
    ingressAdminPort: port('PF9_INGRESS_ADMIN_PORT', 9093),
    commsAdminPort: port('PF9_COMMS_ADMIN_PORT', 9092),
    agentMetricsPort: port('PF9_AGENT_METRICS_PORT', 9091),
    nodeletAdminPort: port('PF9_NODELET_ADMIN_PORT', 9095),
    readyTimeoutMs: Number(env.PF9_READY_TIMEOUT_S ?? '120') * 1000,
    operatorToken: env.HOSTPLANE_TOKEN === undefined || env.HOSTPLANE_TOKEN.trim() === '' ? undefined : env.HOSTPLANE_TOKEN.trim(),
    startLocalBroker: env.PF9_START_LOCAL_BROKER !== '0',
    stopWithParent: stopWithParent.value,
    insecureSharedBrokerUser: env.PF9_INSECURE_SHARED_BROKER_USER === '' ? undefined : env.PF9_INSECURE_SHARED_BROKER_USER,
  };
}

/** Every local port the all-in-one's pieces listen on, by the variable that sets it. */
export function plannedPorts(config: AllInOneConfig): PlannedPort[] {
  return [
    { variable: 'PF9_API_PORT', port: config.apiPort },
    { variable: 'PF9_JOIN_PORT', port: config.joinPort },
    { variable: 'PF9_HOST_API_PORT', port: config.hostApiPort },
    { variable: 'PF9_INGRESS_PORT', port: config.ingressPort },
    { variable: 'PF9_INGRESS_ADMIN_PORT', port: config.ingressAdminPort },
    { variable: 'PF9_COMMS_ADMIN_PORT', port: config.commsAdminPort },
    { variable: 'PF9_NODELET_ADMIN_PORT', port: config.nodeletAdminPort },
    { variable: 'PF9_AGENT_METRICS_PORT', port: config.agentMetricsPort },
  ];
}
