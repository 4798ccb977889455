import { initPlanePki } from '#pki';
import { startRolestore, type RunningRolestore } from '../../services/rolestore/rolestore.app';
import { loadIngressConfig, type IngressConfig } from '../../services/ingress/ingress.config';
import { tempDir } from './fixtures';
import { brokerUrl } from './test-env';

/**
 * The plane as hosts behind comms meet it: a role store with its own PKI and a broker user
 * per host, and the configuration of an ingress in front of it on `listen`.
 */
export async function startHostPlane(prefix: string, listen: string): Promise<{ dataDir: string; rs: RunningRolestore; ingressConfig: IngressConfig }> {
  const dataDir = await tempDir(prefix);
  await initPlanePki(dataDir, { ingressNames: ['localhost'], ingressIps: ['127.0.0.1'] });
  const rs = await startRolestore(
    {
      AMQP_URL: brokerUrl(),
      PF9_DATA_DIR: dataDir,
      PF9_API_PORT: '0',
      PF9_JOIN_PORT: '0',
      PF9_HOST_BROKER_USERS: 'on',
      PF9_BROKER_MANAGEMENT_URL: process.env.PF9_BROKER_MANAGEMENT_URL,
      PF9_LOG_LEVEL: 'error',
    },
    { waitForBrokerMs: 15_000 },
  );
  const broker = new URL(brokerUrl());
  const ingressConfig = loadIngressConfig({
    PF9_DATA_DIR: dataDir,
    PF9_INGRESS_LISTEN: listen,
    PF9_INGRESS_ADMIN: '127.0.0.1:0',
    PF9_INGRESS_ROUTES: `pf9-amqp=${broker.hostname}:${broker.port || 5672},pf9-http=${new URL(rs.hostApiUrl).host},pf9-join=${new URL(rs.joinUrl).host}`,
    PF9_LOG_LEVEL: 'error',
  });
  return { dataDir, rs, ingressConfig };
}
