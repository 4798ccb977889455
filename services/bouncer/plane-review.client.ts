import { Exchanges, hostBrokerUser, RoutingKeys, TOKEN_REVIEW, type TokenReviewRequest, type TokenReviewResult, type TokenReviewUser } from '#contracts';
import { AmqpConnection, NotConnectedError, readHostBrokerUser, RequestTimeoutError, RpcClient, UnroutableError, withBrokerUser, type HostBrokerUser } from '#amqp';
import type { Logger } from '#logging';
import type { BouncerMetrics } from './bouncer.metrics';

/** What asking the plane came to. */
export type PlaneAnswer =
  | { kind: 'answered'; result: TokenReviewResult }
  /** The plane answered with an error: it will not review for this host now (HOST_NOT_AUTHORIZED, FORBIDDEN, …). */
  | { kind: 'refused'; code: string }
  /** The plane could not be asked, or did not answer in time. */
  | { kind: 'unavailable'; cause: 'not-connected' | 'timeout' | 'unroutable' }
  /** An answer that is not one (wrong shape, a group or user Kubernetes must never get from us). */
  | { kind: 'invalid'; problem: string };

/** Asks the plane about one token; never throws. */
export interface PlaneReviewer {
  review(token: string): Promise<PlaneAnswer>;
}

/** A PlaneReviewer with a link that starts, stops, and is up or not. */
export interface PlaneLink extends PlaneReviewer {
  start(): Promise<void>;
  close(): Promise<void>;
  connected(): boolean;
}

export interface PlaneReviewClientOptions {
  /** The broker as the host reaches it (pf9-comms's local AMQP port). */
  amqpUrl: string;
  brokerUserFile: string;
  hostId: string;
  timeoutMs: number;
  logger: Logger;
  metrics: BouncerMetrics;
}

/**
 * token.review through the host's tunnel: the host's own broker user (read again at every
 * connect, as registration may replace it), the request as that user (user_id, checked by
 * the broker), the answer on direct reply-to.
 */
export class PlaneReviewClient implements PlaneLink {
  readonly connection: AmqpConnection;
  private readonly rpc: RpcClient;
  private brokerUser: HostBrokerUser | null;

  constructor(private readonly options: PlaneReviewClientOptions) {
    this.brokerUser = this.readBrokerUser();
    this.connection = new AmqpConnection({
      url: () => withBrokerUser(options.amqpUrl, this.refreshBrokerUser()),
      // A host's broker user may not declare exchanges: the plane does.
      declareTopology: false,
      appId: 'bouncer',
      logger: options.logger,
    });
    this.rpc = new RpcClient(this.connection);
    this.connection.on('connected', () => options.metrics.planeConnected.set(1));
    this.connection.on('disconnected', () => options.metrics.planeConnected.set(0));
  }

  async start(): Promise<void> {
    await this.rpc.start();
    this.connection.start();
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  connected(): boolean {
    return this.connection.isConnected();
  }

  async review(token: string): Promise<PlaneAnswer> {
    const { hostId, timeoutMs, metrics } = this.options;
    const body: TokenReviewRequest = { hostId, token };
    const started = performance.now();
    let answer: PlaneAnswer;
    try {
      const reply: unknown = await this.rpc.request(Exchanges.events, RoutingKeys.hostEvent(hostId, 'token-review'), TOKEN_REVIEW, body, {
        timeoutMs,
        // A request the plane takes up after we gave up is worth nothing: the broker drops it.
        expirationMs: timeoutMs,
        persistent: false,
        userId: this.brokerUser?.username,
      });
      answer = readPlaneReply(reply);
    } catch (err) {
      answer =
        err instanceof NotConnectedError
          ? { kind: 'unavailable', cause: 'not-connected' }
          : err instanceof RequestTimeoutError
            ? { kind: 'unavailable', cause: 'timeout' }
            : err instanceof UnroutableError
              ? { kind: 'unavailable', cause: 'unroutable' }
              : { kind: 'invalid', problem: 'the reply is not JSON' };
    }
    metrics.planeRequestSeconds.observe({ result: answer.kind === 'unavailable' ? answer.cause : answer.kind }, (performance.now() - started) / 1000);
    return answer;
  }

  /** The broker user as the file now says; the one loaded when the file cannot be used (the connection retries). */
  private refreshBrokerUser(): HostBrokerUser | null {
    try {
      this.brokerUser = this.readBrokerUser();
    } catch (err) {
      this.options.logger.warn('cannot use the host broker user file; keeping the one loaded', { reason: err instanceof Error ? err.message : String(err) });
    }
    return this.brokerUser;
  }

  private readBrokerUser(): HostBrokerUser | null {
    const user = readHostBrokerUser(this.options.brokerUserFile);
    const expected = hostBrokerUser(this.options.hostId);
    if (user !== null && user.username !== expected) {
      throw new Error(`${this.options.brokerUserFile} names broker user ${user.username}, not this host's (${expected}): the certificate and the broker user are of different hosts`);
    }
    return user;
  }
}

const GROUP_PATTERN = /^hostplane:[a-z][a-z0-9-]{0,62}$/;
const MAX_NAME_CHARS = 256;

/**
 * The plane's reply, checked as any input is: the shape of the contract, and nothing that
 * would give Kubernetes more than an operator token may (a `system:` user, a group outside
 * `hostplane:`), whoever answered.
 */
export function readPlaneReply(reply: unknown): PlaneAnswer {
  if (!isObject(reply) || typeof reply.ok !== 'boolean') return invalid('not a reply ({"ok": …})');
  if (!reply.ok) {
    const code = isObject(reply.error) && typeof reply.error.code === 'string' ? reply.error.code : null;
    return code !== null && /^[A-Z_]{1,64}$/.test(code) ? { kind: 'refused', code } : invalid('an error reply without a code');
  }
  const result = reply.result;
  if (!isObject(result) || typeof result.authenticated !== 'boolean') return invalid('no result.authenticated');
  if (!result.authenticated) return { kind: 'answered', result: { authenticated: false } };
  const user = result.user;
  if (!isObject(user)) return invalid('no result.user');
  const { username, uid, groups } = user;
  if (typeof username !== 'string' || username === '' || username.length > MAX_NAME_CHARS) return invalid('result.user.username is not a name');
  // Kubernetes reserves system: for its own components; no operator token may pass for one.
  if (username.startsWith('system:')) return invalid('result.user.username is a system: name');
  if (typeof uid !== 'string' || uid === '' || uid.length > MAX_NAME_CHARS) return invalid('result.user.uid is not an id');
  if (!Array.isArray(groups) || groups.length === 0 || groups.length > 16 || !groups.every((g): g is string => typeof g === 'string' && GROUP_PATTERN.test(g))) {
    return invalid('result.user.groups are not hostplane:<role> groups');
  }
  const expiresAt = result.expiresAt;
  if (expiresAt !== undefined && expiresAt !== null && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)))) return invalid('result.expiresAt is not a time');
  const checked: TokenReviewUser = { username, uid, groups: [...groups] };
  return { kind: 'answered', result: { authenticated: true, user: checked, expiresAt: typeof expiresAt === 'string' ? expiresAt : null } };
}

function invalid(problem: string): PlaneAnswer {
  return { kind: 'invalid', problem };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
