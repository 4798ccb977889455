import { resolve } from 'node:path';

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
  /** pf9-comms's local ports; AMQP is not 5672 here, where the broker itself may listen. */
  commsAmqpPort: number;
  commsHttpPort: number;
  commsJoinPort: number;
  commsAdminPort: number;
  agentMetricsPort: number;
  readyTimeoutMs: number;
  /** Starts the local rabbitmq-server when nothing answers at AMQP_URL (loopback only). */
  startLocalBroker: boolean;
  /** Insecure: run without a broker user per host when the management API cannot be had (passed on to the plane). */
  insecureSharedBrokerUser?: string;
}

export function loadAllInOneConfig(env: Record<string, string | undefined>): AllInOneConfig {
  const port = (name: string, fallback: number): number => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new Error(`${name} must be a port number, not '${env[name]}'`);
    return value;
  };
  return {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    dataDir: resolve(env.PF9_DATA_DIR ?? './.data/plane'),
    hostRoot: resolve(env.PF9_ROOT ?? './.data/host'),
    apiPort: port('PF9_API_PORT', 8080),
    joinPort: port('PF9_JOIN_PORT', 8079),
    hostApiPort: port('PF9_HOST_API_PORT', 8078),
    ingressPort: port('PF9_INGRESS_PORT', 8443),
    ingressAdminPort: port('PF9_INGRESS_ADMIN_PORT', 9093),
    commsAmqpPort: port('PF9_COMMS_AMQP_PORT', 5673),
    commsHttpPort: port('PF9_COMMS_HTTP_PORT', 9080),
    commsJoinPort: port('PF9_COMMS_JOIN_PORT', 9079),
    commsAdminPort: port('PF9_COMMS_ADMIN_PORT', 9092),
    agentMetricsPort: port('PF9_AGENT_METRICS_PORT', 9091),
    readyTimeoutMs: Number(env.PF9_READY_TIMEOUT_S ?? '120') * 1000,
    startLocalBroker: env.PF9_START_LOCAL_BROKER !== '0',
    insecureSharedBrokerUser: env.PF9_INSECURE_SHARED_BROKER_USER === '' ? undefined : env.PF9_INSECURE_SHARED_BROKER_USER,
  };
}
