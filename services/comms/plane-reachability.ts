import type { Logger } from '#logging';
import { backoffDelay, type BackoffOptions } from '../../libs/amqp/backoff';
import { errorCode, errorMessage } from '../../libs/tunnel';

export type PlaneState = 'unknown' | 'reachable' | 'unreachable';

/**
 * Whether the plane answers. Once a connection to it fails for a network reason, new local
 * connections are refused at once instead of each waiting for its own failure, and the
 * plane is probed in the background with exponential backoff and full jitter (a fleet
 * that lost the plane together must not come back together) until it answers again.
 */
export class PlaneReachability {
  private current: PlaneState = 'unknown';
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly backoff: BackoffOptions,
    private readonly logger: Logger,
    private readonly onChange: (state: PlaneState) => void = () => undefined,
  ) {}

  get state(): PlaneState {
    return this.current;
  }

  /** Probes once now (at start), so the state is known before the first local connection needs it. */
  start(): void {
    void this.runProbe();
  }

  markReachable(): void {
    if (this.closed || this.current === 'reachable') return;
    if (this.current === 'unreachable') this.logger.info('plane reachable again', { afterAttempts: this.attempt });
    this.set('reachable');
    this.attempt = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  markUnreachable(err: unknown): void {
    if (this.closed || this.current === 'unreachable') return;
    this.set('unreachable');
    this.logger.warn('plane unreachable: refusing local connections and probing it with backoff', { reason: errorMessage(err), code: errorCode(err) });
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.probing || this.timer !== undefined) return;
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runProbe();
    }, delay);
  }

  private async runProbe(): Promise<void> {
    if (this.closed || this.probing) return;
    this.probing = true;
    try {
      await this.probe();
      this.probing = false;
      this.markReachable();
    } catch (err) {
      this.probing = false;
      if (this.current !== 'unreachable') this.markUnreachable(err);
      else {
        this.logger.debug('plane still unreachable', { attempt: this.attempt, reason: errorMessage(err) });
        this.schedule();
      }
    }
  }

  private set(state: PlaneState): void {
    this.current = state;
    this.onChange(state);
  }
}
