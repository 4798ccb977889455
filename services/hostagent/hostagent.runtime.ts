import { join } from 'node:path';
import { commsSocketFile, ErrorCodes, Exchanges, HOST_DESIRED_STATE, HOST_SYNC, PkiFiles, Queues, RoutingKeys, type HostDesiredStateControl, type SyncReason, type TunnelService } from '#contracts';
import { AmqpConnection, ApplicationError, declareHostQueue, MessageConsumer, readHostBrokerUser, withBrokerUser, type HostBrokerUser } from '#amqp';
import type { Logger } from '#logging';
import { resolveLocalUser, trustedSocketPath, type LocalUser } from '#private-fs';
import { ConfigError, type HostagentConfig } from './config/hostagent.config';
import { agentOwner, hostStateFiles, secureHostFiles } from './host-files';
import { socketFetch } from './socket-fetch';
import { HeartbeatPublisher } from './heartbeat.publisher';
import { HookRunner } from './hook-runner';
import { AgentMetrics } from './hostagent.metrics';
import { renewalMayRecover, renewIfDue } from './certificate-renewal';
import { CommsWatchdog } from './comms.watchdog';
import { removeTempFiles } from './crash-leftovers';
import { ensureRegistered, hostCertificateFiles, readPlaneFacts, RegistrationError } from './registration';
import { DesiredStateGate } from './desired-state.gate';
import { hostname } from 'node:os';
import { backoffDelay } from '#amqp';
import { InventoryCollector } from './inventory.collector';
import { NodeletStatusPublisher } from './nodelet-status.publisher';
import { Outbox } from './outbox';
import { HttpPackageFetcher } from './package-fetcher';
import { RoleEngine } from './role-engine';
import { RoleStateStore } from './role-state.store';
import { StatusReporter } from './status.reporter';

/** A renewal that failed for a reason the plane may recover from is tried again this soon (or at the next check, if sooner). */
const RENEW_RETRY_MS = 5 * 60 * 1000;
/** A desired state ahead of the one held makes the agent ask the plane, at most this often (the plane's rate per host). */
const GAP_SYNC_EVERY_MS = 5_000;

/**
 * Everything the host agent does, wired: the broker link, the desired-state consumer,
 * the role engine, heartbeats, the outbox of status reports, and the periodic check.
 */
export class HostagentRuntime {
  readonly metrics = new AgentMetrics();
  readonly connection: AmqpConnection;
  readonly engine: RoleEngine;
  readonly heartbeats: HeartbeatPublisher;
  /** nodelet's state (its status file) to the plane. */
  readonly nodelet: NodeletStatusPublisher;
  private readonly outbox: Outbox;
  private readonly reporter: StatusReporter;
  readonly comms: CommsWatchdog | null;
  private convergeTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private stopped = false;
  private connectedOnce = false;
  private brokerUser: HostBrokerUser | null = null;
  /** The user pf9-comms runs as (PF9_COMMS_USER), when it is not the agent's. */
  private readonly commsOwner: LocalUser | undefined;
  /** How the agent reaches the plane's join endpoint: a URL, and a fetch through comms's socket when there is one. */
  private readonly joinVia: { joinUrl: string; fetch?: typeof fetch };
  /** The broker user whose control messages the agent acts on (learnPlaneBrokerUser). */
  private planeBrokerUser: string | undefined;
  private readonly gate = new DesiredStateGate(() => this.planeBrokerUser);
  private lastGapSyncMs = 0;

  constructor(
    readonly config: HostagentConfig,
    readonly hostId: string,
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = {},
  ) {
    this.commsOwner = commsUserOf(config);
    const sockets = config.commsSocketDir !== '';
    // Over comms's sockets the URLs' hosts mean nothing: only their paths (and AMQP_URL's vhost and credentials) are used.
    this.joinVia = sockets ? { joinUrl: 'http://localhost', fetch: socketFetch(() => this.commsSocket('join')) } : { joinUrl: config.joinUrl };
    const state = hostStateFiles(config.root);
    this.connection = new AmqpConnection({
      url: () => withBrokerUser(config.amqpUrl, this.brokerUser),
      socketPath: sockets ? () => this.commsSocket('amqp') : undefined,
      // A host's own broker user may not declare exchanges: the plane does.
      declareTopology: false,
      userId: () => this.brokerUser?.username,
      appId: 'hostagent',
      logger,
      metrics: this.metrics.amqp,
    });
    this.comms =
      config.commsCommand === ''
        ? null
        : new CommsWatchdog(
            { command: config.commsCommand, healthUrl: config.commsHealthUrl, checkIntervalMs: config.commsCheckIntervalS * 1000, failuresBeforeRestart: 3, env },
            logger.child({ component: 'comms-watchdog' }),
          );
    this.outbox = new Outbox(state.outbox, { logger });
    this.reporter = new StatusReporter(hostId, this.outbox, this.connection, logger, this.metrics);
    this.engine = new RoleEngine(
      {
        hostId,
        root: config.root,
        hookTimeoutMs: config.hookTimeoutS * 1000,
        retryInitialMs: Math.min(config.roleRetryInitialS, config.convergeIntervalS) * 1000,
        retryMaxMs: config.convergeIntervalS * 1000,
      },
      new RoleStateStore(state.state),
      sockets ? new HttpPackageFetcher('http://localhost', undefined, socketFetch(() => this.commsSocket('http'))) : new HttpPackageFetcher(config.apiUrl),
      new HookRunner({ logger }),
      this.reporter,
      logger,
      this.metrics,
    );
    this.heartbeats = new HeartbeatPublisher(
      hostId,
      config.heartbeatIntervalS * 1000,
      new InventoryCollector(),
      this.engine,
      this.connection,
      logger,
      this.metrics,
      () => this.comms?.status(),
    );
    this.nodelet = new NodeletStatusPublisher(hostId, join(config.root, 'var/opt/pf9/kube_status'), this.connection, logger.child({ component: 'nodelet-status' }));
  }

  async start(): Promise<void> {
    await removeTempFiles(this.config.root, this.logger);
    // Before comms starts: it reads the host's key and certificates as its own user.
    await secureHostFiles(this.config.root, this.commsOwner);
    if (this.comms) {
      await this.comms.start();
      await this.comms.healthy(30_000).catch((err: unknown) => this.logger.warn('pf9-comms is not healthy yet', { err: String(err) }));
    }
    if (this.config.joinToken !== '') await this.register();
    this.brokerUser = readHostBrokerUser(join(this.config.root, PkiFiles.host.broker));
    await this.learnPlaneBrokerUser();
    await this.outbox.open();
    await this.engine.init();
    const consumer = new MessageConsumer(this.connection, {
      queue: Queues.host(this.hostId),
      declare: async (channel) => void (await declareHostQueue(channel, this.hostId)),
      handlers: { [HOST_DESIRED_STATE]: async (state, context) => this.onDesiredState(state, context.userId) },
      prefetch: 10,
      metrics: this.metrics.amqp,
      logger: this.logger,
    });
    await consumer.start();
    this.connection.on('connected', () => void this.onConnected());
    this.connection.start();
    this.heartbeats.start();
    this.nodelet.start();
    void this.renewNow();
    // Roles installed before a restart are reconciled against the last desired state held.
    void this.engine.reconcile();
    this.scheduleConverge();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    this.heartbeats.stop();
    this.reporter.stop();
    this.engine.stop();
    this.nodelet.stop();
    // A renewal under way goes through comms: let it get its answer before comms stops.
    if (this.renewing) await Promise.race([this.renewing, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (this.convergeTimer) clearTimeout(this.convergeTimer);
    this.convergeTimer = null;
    await Promise.race([this.engine.idle(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    await this.connection.close();
    await this.comms?.stop();
  }

  /**
   * Joins the plane with the one-time token unless this host already holds its
   * certificate. The plane may not be reachable yet: tried again with backoff; a token
   * the plane refuses is final.
   */
  private async register(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await ensureRegistered({ root: this.config.root, hostId: this.hostId, hostname: hostname(), token: this.config.joinToken, commsOwner: this.commsOwner, ...this.joinVia });
        if (outcome.registered) this.logger.info('registered with the plane: certificate issued', { cert: outcome.files.cert });
        return;
      } catch (err) {
        if (err instanceof RegistrationError && err.status !== undefined && err.status < 500) throw err;
        const delay = backoffDelay(attempt, { initialMs: 500, maxMs: 15_000, factor: 2 });
        this.logger.warn('cannot register with the plane yet; trying again', { err: String(err), inMs: delay });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Looks at the host certificate now (renewing it if due), then again on the timer; one look at a time. */
  renewNow(): Promise<void> {
    if (this.renewing) return this.renewing;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    this.renewing = this.renewCertificate().then(async (nextMs) => {
      // A renewal's answer says who the plane's broker user is.
      await this.learnPlaneBrokerUser().catch((err: unknown) => this.logger.warn("could not read the plane's broker user", { err: String(err) }));
      this.renewing = null;
      if (this.stopped) return;
      this.renewTimer = setTimeout(() => void this.renewNow(), nextMs);
      this.renewTimer.unref();
    });
    return this.renewing;
  }

  /**
   * Renews the host certificate when it is due; answers when to look again: after
   * PF9_CERT_RENEW_CHECK_S, sooner after a failure the plane may recover from. A refusal is
   * logged as an error: the host will need a join token made for it once its certificate expires.
   */
  private async renewCertificate(): Promise<number> {
    const checkMs = this.config.certRenewCheckS * 1000;
    try {
      const outcome = await renewIfDue({ root: this.config.root, hostId: this.hostId, renewBeforeDays: this.config.certRenewBeforeDays, commsOwner: this.commsOwner, ...this.joinVia });
      if (outcome.state === 'no-certificate') {
        this.logger.debug('no host certificate to renew', { problem: outcome.problem });
        return checkMs;
      }
      this.metrics.certificateExpiry.set(outcome.notAfter.getTime() / 1000);
      if (outcome.state === 'renewed') {
        this.metrics.certificateRenewals.inc({ outcome: 'renewed' });
        this.logger.info('host certificate renewed', { serial: outcome.serial, previousSerial: outcome.previousSerial, notAfter: outcome.notAfter.toISOString() });
        if (outcome.dueAt.getTime() <= Date.now()) {
          this.logger.warn('the renewed certificate is due for renewal at once: PF9_CERT_RENEW_BEFORE_DAYS is not shorter than its lifetime, so it will be renewed at every check', {
            renewBeforeDays: this.config.certRenewBeforeDays,
            notAfter: outcome.notAfter.toISOString(),
          });
        }
      }
      return checkMs;
    } catch (err) {
      this.metrics.certificateRenewals.inc({ outcome: 'failed' });
      if (!renewalMayRecover(err)) {
        this.logger.error('the plane refused to renew the host certificate', { err: String(err) });
        return checkMs;
      }
      const retryMs = Math.min(checkMs, RENEW_RETRY_MS);
      this.logger.warn('cannot renew the host certificate yet; trying again', { err: String(err), inMs: retryMs });
      return retryMs;
    }
  }

  /**
   * The path of comms's socket for `service`, once its folder proved to be comms's or root's
   * and closed to others: a socket anyone else could have put there is never used (it would
   * get the join token or the broker password, or hand the agent a desired state of its own).
   */
  private commsSocket(service: TunnelService): Promise<string> {
    const owners = [agentOwner().uid, ...(this.commsOwner ? [this.commsOwner.uid] : [])];
    return trustedSocketPath(this.config.commsSocketDir, commsSocketFile(service), owners);
  }

  /**
   * The sender of control messages: PF9_PLANE_BROKER_USER, else what the plane said at join
   * or renewal, else (a host that never registered, on the broker user it shares with the
   * plane) the user of AMQP_URL. A host with a user of its own that has not heard it from the
   * plane (registered before the plane said it) acts on nothing until it does, and says so.
   */
  private async learnPlaneBrokerUser(): Promise<void> {
    const said = (await readPlaneFacts(hostCertificateFiles(this.config.root)))?.brokerUser;
    const shared = this.brokerUser === null ? decodeURIComponent(new URL(this.config.amqpUrl).username || 'guest') : undefined;
    this.planeBrokerUser = this.config.planeBrokerUser ?? said ?? shared;
    if (this.planeBrokerUser === undefined) {
      this.logger.error("the plane's broker user is not known: no control message is acted on until the certificate is renewed or PF9_PLANE_BROKER_USER names it");
    }
  }

  private async onDesiredState(state: HostDesiredStateControl, userId: string | undefined): Promise<void> {
    const verdict = this.gate.judge(state, userId, this.engine.generation);
    if (verdict.take) {
      await this.engine.offer(state, verdict.authoritative);
      return;
    }
    if (verdict.reason === 'stale' && this.engine.onlyRetryTokensDiffer(state)) {
      await this.engine.offer(state);
      return;
    }
    this.metrics.controlRefused.inc({ reason: verdict.reason });
    if (verdict.reason === 'forbidden') {
      this.logger.warn("control message refused: not sent by the plane's broker user", { userId, expected: this.planeBrokerUser, generation: state.generation });
      throw new ApplicationError(ErrorCodes.forbidden, `control messages come from the plane's broker user only, not from ${String(userId)}`);
    }
    if (verdict.reason === 'gap' && Date.now() - this.lastGapSyncMs >= GAP_SYNC_EVERY_MS) {
      this.lastGapSyncMs = Date.now();
      this.logger.info('desired state ahead of the one held: asking the plane to confirm it', { generation: state.generation, held: this.engine.generation });
      void this.requestSync('gap');
    }
  }

  /** Asks the plane for the whole desired state. */
  async requestSync(reason: SyncReason): Promise<void> {
    try {
      const body = { hostId: this.hostId, reason, knownGeneration: this.engine.generation, syncId: this.gate.ask() };
      await this.connection.publish(Exchanges.events, RoutingKeys.hostEvent(this.hostId, 'sync'), HOST_SYNC, body, { persistent: false });
    } catch (err) {
      this.logger.warn('could not ask for the desired state', { reason, err: String(err) });
    }
  }

  private async onConnected(): Promise<void> {
    const reason: SyncReason = this.connectedOnce ? 'reconnect' : 'start';
    this.connectedOnce = true;
    await this.reporter.flush();
    await this.requestSync(reason);
    this.nodelet.resend();
    if (reason === 'start') await this.heartbeats.beat();
  }

  private scheduleConverge(): void {
    this.convergeTimer = setTimeout(async () => {
      await this.reporter.flush();
      await this.requestSync('timer');
      await this.engine.converge();
      if (this.convergeTimer) this.scheduleConverge();
    }, this.config.convergeIntervalS * 1000);
  }
}

function commsUserOf(config: HostagentConfig): LocalUser | undefined {
  if (config.commsUser === '') return undefined;
  try {
    return resolveLocalUser(config.commsUser);
  } catch (err) {
    throw new ConfigError(`invalid host agent configuration: PF9_COMMS_USER: ${err instanceof Error ? err.message : String(err)}`);
  }
}
