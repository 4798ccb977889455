import { resolve } from 'node:path';

/** The all-in-one's own settings; everything else is passed on to the plane and the host as it is. */
export interface AllInOneConfig {
  amqpUrl: string;
  dataDir: string;
  hostRoot: string;
  apiPort: number;
  readyTimeoutMs: number;
  /** Starts the local rabbitmq-server when nothing answers at AMQP_URL (loopback only). */
  startLocalBroker: boolean;
}

export function loadAllInOneConfig(env: Record<string, string | undefined>): AllInOneConfig {
  const apiPort = Number(env.PF9_API_PORT ?? '8080');
  if (!Number.isInteger(apiPort) || apiPort <= 0 || apiPort > 65535) throw new Error(`PF9_API_PORT must be a port number, not '${env.PF9_API_PORT}'`);
  return {
    amqpUrl: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    dataDir: resolve(env.PF9_DATA_DIR ?? './.data/plane'),
    hostRoot: resolve(env.PF9_ROOT ?? './.data/host'),
    apiPort,
    readyTimeoutMs: Number(env.PF9_READY_TIMEOUT_S ?? '120') * 1000,
    startLocalBroker: env.PF9_START_LOCAL_BROKER !== '0',
  };
}
