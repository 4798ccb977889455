import { join, resolve } from 'node:path';
import { parseHostPort, PkiFiles, type Endpoint } from '../../libs/tunnel';
import { redactUrl } from '#amqp';
import { parseLogLevel, type LogLevel } from '#logging';

export interface BouncerConfig {
  /** Where kube-apiserver sends its TokenReviews (HTTPS). */
  listen: Endpoint;
  /** `/healthz` and `/metrics` (HTTP). */
  admin: Endpoint;
  /** The host certificate and key (from the plane's CA; names <hostId>.hosts.hostplane.internal), served to kube-apiserver. */
  tls: { certFile: string; keyFile: string };
  /** How often the certificate files are looked at for changes (renewal). */
  certRecheckMs: number;
  /** The broker as the host reaches it: pf9-comms's local AMQP port. */
  amqpUrl: string;
  /** The host's own broker user (written at registration); when absent, the URL's credentials. */
  brokerUserFile: string;
  /** How long the plane may take to answer before the review fails (closed). */
  planeTimeoutMs: number;
  cache: {
    /** How long a positive answer may be used when the plane cannot be asked. */
    positiveTtlMs: number;
    /** How long a negative answer is kept; also how long a positive one is used without asking the plane again. */
    negativeTtlMs: number;
    maxEntries: number;
  };
  /** Reviews of distinct tokens waiting for the plane at once; more are refused (fail closed). */
  maxPending: number;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid pf9-bouncer configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_LISTEN = '127.0.0.1:9443';
export const DEFAULT_ADMIN = '127.0.0.1:9094';

/**
 * pf9-bouncer's environment, read here and nowhere else, validated once at boot: every bad
 * variable is reported, not just the first.
 */
export function loadBouncerConfig(env: Record<string, string | undefined> = process.env): BouncerConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const endpoint = (name: string, fallback: string): Endpoint => {
    const parsed = parseHostPort(value(name) ?? fallback, { allowPortZero: true });
    if (parsed.ok) return parsed.value;
    problems.push(...parsed.problems.map((p) => `${name}: ${p}`));
    return { host: '127.0.0.1', port: 0 };
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = value(name);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      problems.push(`${name}: '${text}' is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(text);
  };

  const root = resolve(value('PF9_ROOT') ?? '/');
  const listen = endpoint('PF9_BOUNCER_LISTEN', DEFAULT_LISTEN);
  const admin = endpoint('PF9_BOUNCER_ADMIN', DEFAULT_ADMIN);
  const tls = {
    certFile: resolve(value('PF9_CERT_FILE') ?? join(root, PkiFiles.host.cert)),
    keyFile: resolve(value('PF9_KEY_FILE') ?? join(root, PkiFiles.host.key)),
  };
  const certRecheckMs = integer('PF9_BOUNCER_CERT_RECHECK_S', 60, 1, 86_400) * 1000;

  const amqpUrl = value('AMQP_URL') ?? 'amqp://127.0.0.1:5672';
  if (!/^amqps?:\/\/[^\s]+$/.test(amqpUrl)) problems.push(`AMQP_URL: '${redactUrl(amqpUrl)}' is not an amqp:// URL`);
  const brokerUserFile = resolve(value('PF9_BROKER_USER_FILE') ?? join(root, PkiFiles.host.broker));

  const planeTimeoutMs = integer('PF9_BOUNCER_PLANE_TIMEOUT_MS', 5_000, 100, 60_000);
  const positiveTtlMs = integer('PF9_BOUNCER_CACHE_POSITIVE_S', 60, 0, 3_600) * 1000;
  const negativeTtlMs = integer('PF9_BOUNCER_CACHE_NEGATIVE_S', 10, 0, 3_600) * 1000;
  const maxEntries = integer('PF9_BOUNCER_CACHE_MAX_ENTRIES', 10_000, 1, 1_000_000);
  const maxPending = integer('PF9_BOUNCER_MAX_PENDING', 256, 1, 100_000);

  const logLevelText = value('PF9_LOG_LEVEL');
  const logLevel = parseLogLevel(logLevelText);
  if (logLevelText !== undefined && logLevel !== logLevelText) problems.push(`PF9_LOG_LEVEL: '${logLevelText}' is not one of debug, info, warn, error`);

  if (problems.length > 0) throw new ConfigError(problems);
  return { listen, admin, tls, certRecheckMs, amqpUrl, brokerUserFile, planeTimeoutMs, cache: { positiveTtlMs, negativeTtlMs, maxEntries }, maxPending, logLevel };
}
