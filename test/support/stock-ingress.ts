import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpensslPki } from './openssl-pki';
import { REPO_ROOT } from './processes';
import { installed, ServiceProcess } from './service-process';

/**
 * The ingress done by stock software, with the configurations we ship
 * (docker/haproxy/haproxy.cfg, docker/nginx/nginx-stream.conf), pointed at local ports
 * and a test PKI. Used by test/integration/ingress-configs.spec.ts and bench/comms.ts.
 */

export const HAPROXY_CONFIG = join(REPO_ROOT, 'docker/haproxy/haproxy.cfg');
export const NGINX_STREAM_CONFIG = join(REPO_ROOT, 'docker/nginx/nginx-stream.conf');
/** Where Debian's libnginx-mod-stream puts the module. */
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export const DEBIAN_PACKAGES = 'haproxy nginx-light libnginx-mod-stream stunnel4 openssl';

export interface Endpoint {
  host: string;
  port: number;
}

export interface IngressSetup {
  listen: Endpoint;
  pki: OpensslPki;
  /** Plain TCP backends by service. */
  routes: { amqp: Endpoint; http: Endpoint; join: Endpoint };
  /** A directory of its own for configuration copies, pid files and the like. */
  workDir: string;
}

const addr = (e: Endpoint): string => `${e.host}:${e.port}`;

/** Fails with the package to install when `command` is missing. */
export function requireInstalled(command: string, debianPackage: string): string {
  const version = installed(command, command === 'stunnel' ? ['-version'] : ['-v']);
  if (version === undefined) {
    throw new Error(`${command} is not installed; this test needs it (Debian: apt-get install -y ${debianPackage}; all of them: ${DEBIAN_PACKAGES})`);
  }
  return version;
}

// ---------------------------------------------------------------------------- HAProxy

/** haproxy.cfg reads its addresses and paths from the environment ("${NAME-default}"). */
export function haproxyEnv(setup: IngressSetup): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PF9_INGRESS_BIND: addr(setup.listen),
    PF9_INGRESS_CERT: setup.pki.serverCert,
    PF9_INGRESS_CA: setup.pki.caCert,
    PF9_BROKER_ADDR: addr(setup.routes.amqp),
    PF9_HOST_API_ADDR: addr(setup.routes.http),
    PF9_JOIN_ADDR: addr(setup.routes.join),
    // The default (20000) needs about 40000 file descriptors, more than a test shell allows.
    PF9_INGRESS_MAXCONN: '2000',
  };
}

/** `haproxy -c` of the shipped configuration (plus `extraConfigs`, loaded after it). */
export function checkHaproxyConfig(setup: IngressSetup, extraConfigs: string[] = []): { ok: boolean; output: string } {
  const result = spawnSync('haproxy', ['-c', '-f', HAPROXY_CONFIG, ...extraConfigs.flatMap((f) => ['-f', f])], { env: haproxyEnv(setup), encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

/**
 * Runs HAProxy in the foreground with the shipped configuration (plus `extraConfigs`,
 * loaded after it); resolves once it listens. Its output goes to `logFile` when given.
 */
export async function startHaproxyIngress(setup: IngressSetup, extraConfigs: string[] = [], logFile?: string): Promise<ServiceProcess> {
  const proc = new ServiceProcess('haproxy (ingress)', 'haproxy', ['-db', '-f', HAPROXY_CONFIG, ...extraConfigs.flatMap((f) => ['-f', f])], { env: haproxyEnv(setup), logFile });
  try {
    return await proc.listening(setup.listen.host, setup.listen.port);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

// ------------------------------------------------------------------------------ nginx

/**
 * nginx reads no environment: the shipped stream {} block is copied with its addresses
 * and paths replaced (each must be found, so that the copy cannot silently drift from
 * the file), and included from a minimal nginx.conf that loads the stream module.
 */
export function writeNginxConfig(setup: IngressSetup): string {
  const replacements: Array<[string, string]> = [
    ['listen 443 ssl;', `listen ${addr(setup.listen)} ssl;`],
    ['/var/lib/hostplane/pki/ingress.crt', setup.pki.serverCert],
    ['/var/lib/hostplane/pki/ingress.key', setup.pki.serverKey],
    ['/var/lib/hostplane/pki/ca.crt', setup.pki.caCert],
    ['server rabbitmq:5672;', `server ${addr(setup.routes.amqp)};`],
    ['server rolestore:8078;', `server ${addr(setup.routes.http)};`],
    ['server rolestore:8079;', `server ${addr(setup.routes.join)};`],
    ['/var/log/nginx/pf9-ingress.log', join(setup.workDir, 'nginx-access.log')],
  ];
  let text = readFileSync(NGINX_STREAM_CONFIG, 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${NGINX_STREAM_CONFIG} no longer contains "${from}": update test/support/stock-ingress.ts`);
    text = text.split(from).join(to);
  }
  const stream = join(setup.workDir, 'nginx-stream.conf');
  writeFileSync(stream, text);
  const main = join(setup.workDir, 'nginx.conf');
  writeFileSync(
    main,
    [
      `load_module ${NGINX_STREAM_MODULE};`,
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(setup.workDir, 'nginx.pid')};`,
      'error_log stderr notice;',
      'events { worker_connections 1024; }',
      `include ${stream};`,
      '',
    ].join('\n'),
  );
  return main;
}

export function requireNginxStream(): void {
  requireInstalled('nginx', 'nginx-light');
  if (!existsSync(NGINX_STREAM_MODULE)) {
    throw new Error(`nginx's stream module is not at ${NGINX_STREAM_MODULE} (Debian: apt-get install -y libnginx-mod-stream; all of them: ${DEBIAN_PACKAGES})`);
  }
}

function nginxArgs(setup: IngressSetup, main: string): string[] {
  // -e: errors to stderr from the start, not to /var/log/nginx (which may not be writable).
  return ['-e', 'stderr', '-p', setup.workDir, '-c', main];
}

/** `nginx -t` of the shipped stream block, in a minimal nginx.conf. */
export function checkNginxConfig(setup: IngressSetup): { ok: boolean; output: string } {
  const main = writeNginxConfig(setup);
  const result = spawnSync('nginx', ['-t', ...nginxArgs(setup, main)], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

export async function startNginxIngress(setup: IngressSetup): Promise<ServiceProcess> {
  const main = writeNginxConfig(setup);
  const proc = new ServiceProcess('nginx (ingress)', 'nginx', nginxArgs(setup, main));
  try {
    return await proc.listening(setup.listen.host, setup.listen.port);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
