import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { WebhookKubeconfig } from '../../cli/bouncer.command';

export interface WebhookAnswer {
  status: number;
  body: unknown;
  /** The serial of the certificate the webhook served (lower-case hex). */
  serial: string;
}

/** A TokenReview exactly as kube-apiserver's webhook authenticator sends it (authentication.k8s.io/v1). */
export function tokenReviewBody(token: string, extra: { audiences?: string[] } = {}): Record<string, unknown> {
  return {
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: { token, ...(extra.audiences ? { audiences: extra.audiences } : {}) },
    status: { user: {} },
  };
}

/**
 * Calls the webhook as kube-apiserver does with its kubeconfig: the cluster's server URL,
 * trusting certificate-authority-data alone and checking tls-server-name. `port` replaces
 * the URL's (bouncer on a free port in tests).
 */
export function callWebhook(
  kubeconfig: WebhookKubeconfig,
  body: string | Buffer | object,
  options: { port?: number; method?: string; path?: string; contentType?: string } = {},
): Promise<WebhookAnswer> {
  const cluster = kubeconfig.clusters[0]!.cluster;
  const url = new URL(cluster.server);
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: options.port ?? Number(url.port),
        path: options.path ?? url.pathname,
        method: options.method ?? 'POST',
        ca: Buffer.from(cluster['certificate-authority-data'], 'base64'),
        servername: cluster['tls-server-name'],
        agent: false,
        headers: { 'content-type': options.contentType ?? 'application/json', accept: 'application/json, */*', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber.toLowerCase() ?? '';
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // kept as text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, serial });
        });
      },
    );
    req.on('error', reject);
    req.end(options.method === 'GET' ? undefined : payload);
  });
}
