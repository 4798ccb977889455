import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HOST_ID_PATTERN, hostDnsName, PkiFiles } from '#contracts';
import { resolveDataDir } from './cli.config';
import { CliError, ioErrorText, printJson, UsageError, type Command } from './command';

/** pf9-bouncer's default port (PF9_BOUNCER_LISTEN) and the path it serves TokenReviews on. */
export const BOUNCER_DEFAULT_PORT = 9443;
export const BOUNCER_REVIEW_PATH = '/authenticate';

/** The kubeconfig kube-apiserver reads with --authentication-token-webhook-config-file, as Kubernetes documents it. */
export interface WebhookKubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string; 'tls-server-name': string } }>;
  users: Array<{ name: string; user: Record<string, never> }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context': string;
}

/**
 * kube-apiserver → pf9-bouncer on its own master node: https://127.0.0.1:<port>/authenticate,
 * trusting the plane's CA alone and checking the name the host's certificate carries. No
 * client credentials: bouncer listens on the loopback only.
 */
export function webhookKubeconfig(hostId: string, port: number, caPem: Buffer): WebhookKubeconfig {
  const serverName = hostDnsName(hostId);
  if (serverName === null) throw new CliError(`host id ${hostId} is not a DNS label (lower-case letters, digits, "-"): its certificate names no host for kube-apiserver to check`);
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'pf9-bouncer', cluster: { server: `https://127.0.0.1:${port}${BOUNCER_REVIEW_PATH}`, 'certificate-authority-data': caPem.toString('base64'), 'tls-server-name': serverName } }],
    users: [{ name: 'kube-apiserver', user: {} }],
    contexts: [{ name: 'webhook', context: { cluster: 'pf9-bouncer', user: 'kube-apiserver' } }],
    'current-context': 'webhook',
  };
}

/** The kubeconfig as YAML; every string is written JSON-quoted, which YAML reads as it is. */
export function kubeconfigYaml(config: WebhookKubeconfig, hostId: string): string {
  const q = (text: string): string => JSON.stringify(text);
  const cluster = config.clusters[0]!;
  const user = config.users[0]!;
  const context = config.contexts[0]!;
  return [
    `# kube-apiserver --authentication-token-webhook-config-file: pf9-bouncer on host ${hostId}.`,
    '# With --authentication-token-webhook-version=v1 and a short --authentication-token-webhook-cache-ttl (e.g. 10s).',
    `apiVersion: ${config.apiVersion}`,
    `kind: ${config.kind}`,
    'clusters:',
    `  - name: ${q(cluster.name)}`,
    '    cluster:',
    `      server: ${q(cluster.cluster.server)}`,
    `      certificate-authority-data: ${q(cluster.cluster['certificate-authority-data'])}`,
    `      tls-server-name: ${q(cluster.cluster['tls-server-name'])}`,
    'users:',
    `  - name: ${q(user.name)}`,
    '    user: {}',
    'contexts:',
    `  - name: ${q(context.name)}`,
    '    context:',
    `      cluster: ${q(context.context.cluster)}`,
    `      user: ${q(context.context.user)}`,
    `current-context: ${q(config['current-context'])}`,
    '',
  ].join('\n');
}

const bouncerKubeconfig: Command = {
  path: ['bouncer', 'kubeconfig'],
  args: [],
  options: {
    host: { type: 'string', value: 'ID', description: 'the master node\'s host id, whose pf9-bouncer kube-apiserver calls (required)' },
    port: { type: 'string', value: 'N', description: `pf9-bouncer's port on that node (default: ${BOUNCER_DEFAULT_PORT})` },
    ca: { type: 'string', value: 'FILE', description: 'the plane\'s CA certificate (default: <data dir>/pki/ca.crt)' },
    'data-dir': { type: 'string', value: 'DIR', description: 'the plane\'s data directory, for the CA (default: $PF9_DATA_DIR, else ./.data/plane)' },
  },
  summary: 'print the kubeconfig for kube-apiserver\'s --authentication-token-webhook-config-file (no API call)',
  async run(ctx, _args, options) {
    if (typeof options.host !== 'string') throw new UsageError('--host is required: the host id of the master node that runs pf9-bouncer');
    const hostId = options.host;
    if (!HOST_ID_PATTERN.test(hostId)) throw new UsageError(`--host must be a host id (1-64 letters, digits, "_" or "-"), got "${hostId}"`);
    const port = typeof options.port === 'string' ? parsePort(options.port) : BOUNCER_DEFAULT_PORT;
    const caFile =
      typeof options.ca === 'string'
        ? resolve(ctx.cwd, options.ca)
        : join(resolveDataDir(typeof options['data-dir'] === 'string' ? options['data-dir'] : undefined, ctx.env, ctx.cwd), PkiFiles.plane.caCert);
    let caPem: Buffer;
    try {
      caPem = await readFile(caFile);
    } catch (error: unknown) {
      throw new CliError(`cannot read the plane's CA ${caFile}: ${ioErrorText(error)}`, ['give it with --ca FILE, or run this on the plane (--data-dir)']);
    }
    if (!isCaCertificate(caPem)) throw new CliError(`${caFile} is not a CA certificate (PEM)`);
    const config = webhookKubeconfig(hostId, port, caPem);
    if (ctx.json) return printJson(ctx.stdout, config);
    ctx.stdout.write(kubeconfigYaml(config, hostId));
  },
};

export const bouncerCommands: readonly Command[] = [bouncerKubeconfig];

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), got "${text}"`);
  return port;
}

function isCaCertificate(pem: Buffer): boolean {
  try {
    return new X509Certificate(pem).ca;
  } catch {
    return false;
  }
}
