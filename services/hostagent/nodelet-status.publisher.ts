import { promises as fs } from 'node:fs';
import { Exchanges, NODELET_STATUS, RoutingKeys, type NodeletStatusEvent } from '#contracts';
import type { Logger } from '#logging';
import { parseStatus, type KubeStatus } from '../../libs/kube-status';

/** What the publisher needs of the broker link. */
export interface EventLink {
  isConnected(): boolean;
  publish(exchange: string, routingKey: string, kind: string, body: unknown, options: { persistent: boolean }): Promise<void>;
}

export interface NodeletStatusPublisherOptions {
  /** How often the status file is looked at (a stat; read only when it changed). */
  pollMs?: number;
  now?: () => Date;
}

/**
 * Tells the plane nodelet's state (`nodelet.status`, rk `host.<hostId>.nodelet`): reads
 * nodelet's status file, and publishes when what it says changes, at most once per
 * nodelet's LOOP_INTERVAL (a burst of changes goes out as its last state), and again
 * after a reconnect. nodelet itself has no broker link: the host agent has the host's
 * identity and its one way to the plane. A status file that disappears (nodelet's state
 * removed) is said as `none`. A status is superseded by the next: none is queued on disk.
 */
export class NodeletStatusPublisher {
  private timer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private stamp = '';
  /** The newest state read, as the event without sentAt. */
  private current: Omit<NodeletStatusEvent, 'sentAt'> | null = null;
  private currentKey = '';
  private sentKey = '';
  private lastSentMs = 0;
  private minIntervalMs = 60_000;
  private sending = false;
  private readonly pollMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly hostId: string,
    private readonly statusFile: string,
    private readonly link: EventLink,
    private readonly logger: Logger,
    options: NodeletStatusPublisherOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    const tick = async (): Promise<void> => {
      await this.poll().catch((err: unknown) => this.logger.warn('cannot read nodelet\'s status file', { err: String(err) }));
      if (this.timer) this.timer = setTimeout(() => void tick(), this.pollMs);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.sendTimer) clearTimeout(this.sendTimer);
    this.timer = null;
    this.sendTimer = null;
  }

  /** After a reconnect: the plane may have missed the last one. */
  resend(): void {
    this.sentKey = '';
    void this.flush();
  }

  /** Looks at the status file; answers whether the state changed. */
  async poll(): Promise<boolean> {
    const stat = await fs.stat(this.statusFile).catch(() => null);
    const stamp = stat ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : 'absent';
    if (stamp === this.stamp) return false;
    this.stamp = stamp;
    let next: Omit<NodeletStatusEvent, 'sentAt'> | null;
    if (!stat) {
      // Never reported anything: nothing to take back.
      next = this.current === null ? null : { hostId: this.hostId, state: 'none', clusterId: '', role: 'none', attempt: 0, phases: [] };
    } else {
      const status = parseStatus(await fs.readFile(this.statusFile, 'utf8').catch(() => ''));
      if (!status) return false; // half-written or not nodelet's: the next look tells
      next = toEvent(this.hostId, status);
      this.minIntervalMs = Math.max(1, status.nodelet_loop_interval_s) * 1000;
    }
    if (next === null) return false;
    const key = JSON.stringify(next);
    if (key === this.currentKey) return false;
    this.current = next;
    this.currentKey = key;
    await this.flush();
    return true;
  }

  /** Sends the newest state if it was not sent, once LOOP_INTERVAL has passed since the last send. */
  async flush(): Promise<void> {
    if (this.current === null || this.currentKey === this.sentKey || this.sending) return;
    const wait = this.lastSentMs + this.minIntervalMs - this.now().getTime();
    if (wait > 0 && this.sentKey !== '') {
      if (!this.sendTimer) {
        this.sendTimer = setTimeout(() => {
          this.sendTimer = null;
          void this.flush();
        }, wait);
      }
      return;
    }
    if (!this.link.isConnected()) return;
    const key = this.currentKey;
    const body: NodeletStatusEvent = { ...this.current, sentAt: this.now().toISOString() };
    this.sending = true;
    try {
      await this.link.publish(Exchanges.events, RoutingKeys.hostEvent(this.hostId, 'nodelet'), NODELET_STATUS, body, { persistent: false });
      this.sentKey = key;
      this.lastSentMs = this.now().getTime();
      this.logger.debug('nodelet status sent', { state: body.state, attempt: body.attempt });
    } catch (err) {
      this.logger.warn('nodelet status not sent; tried again at the next look', { err: String(err) });
    } finally {
      this.sending = false;
    }
    // Something newer may have come while this one was on its way.
    if (this.currentKey !== this.sentKey) await this.flush();
  }
}

/** The event the plane gets, from the status file's keys (bounded as the contract requires). */
export function toEvent(hostId: string, status: KubeStatus): Omit<NodeletStatusEvent, 'sentAt'> {
  const role = status.pf9_cluster_role === 'master' || status.pf9_cluster_role === 'worker' ? status.pf9_cluster_role : 'none';
  const backup = status.etcd_backup;
  const serviceState = status.nodelet_kube_service_state;
  return {
    hostId,
    state: status.pf9_kube_node_state,
    clusterId: status.pf9_cluster_id.slice(0, 256),
    role,
    attempt: Math.max(0, Math.floor(status.pf9_kube_start_attempt)),
    phases: status.phases.slice(0, 256).map((p) => ({
      order: Math.max(0, Math.min(999_999, Math.floor(p.order))),
      name: p.name.slice(0, 128),
      state: p.state,
      message: p.message.slice(-4096),
      attempts: Math.max(0, Math.floor(p.attempts)),
    })),
    ...(serviceState === 'true' || serviceState === 'false' || serviceState === 'ignore' ? { kubeServiceState: serviceState } : {}),
    ...(status.nodelet_config_error ? { configError: status.nodelet_config_error.slice(0, 4096) } : {}),
    hold: status.nodelet_hold,
    ...(backup
      ? {
          etcdBackup: {
            ...(backup.last_success_at ? { lastSuccessAt: backup.last_success_at } : {}),
            ...(backup.last_success_size_bytes !== undefined ? { sizeBytes: backup.last_success_size_bytes } : {}),
            ...(backup.last_success_revision !== undefined ? { revision: backup.last_success_revision } : {}),
            ...(backup.last_success_file ? { file: backup.last_success_file.slice(0, 1024) } : {}),
            ...(backup.last_failure_at ? { lastFailureAt: backup.last_failure_at } : {}),
            ...(backup.last_error ? { lastError: backup.last_error.slice(0, 1024) } : {}),
            expectedIntervalS: Math.max(1, Math.floor(backup.expected_interval_s)),
          },
        }
      : {}),
  };
}
