import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SocketSplice } from './socket-splice';

export interface TunnelMetricsOptions {
  /** `hostplane_comms`, `hostplane_ingress`. */
  prefix: string;
  /** What one end of the tunnel is called in labels: comms's `service`, the ingress's `route`. */
  peerLabel: string;
  /** Name (after the prefix) and help of the counter of connections that could not be made, by cause. */
  failures: { name: string; help: string };
}

/**
 * The metrics both ends of the tunnel share: connections open and total, bytes each way,
 * TLS handshake time, resumed sessions, and failures by cause. Bytes are counted on the
 * splice and added to the counter at scrape time and when a connection ends, so the
 * data path does no label lookups; the labelled children are looked up once per peer.
 */
export class TunnelMetrics {
  readonly registry = new Registry();
  readonly connectionsOpen: Gauge<string>;
  readonly connectionsTotal: Counter<string>;
  readonly bytes: Counter<string>;
  readonly handshakeSeconds: Histogram<string>;
  readonly sessionsResumed: Counter<string>;
  readonly failures: Counter<string>;
  private readonly live = new Map<SocketSplice, { peer: string; upstream: number; downstream: number }>();
  /** The labelled children of each peer, looked up once rather than on every event (peers are few: services, routes). */
  private readonly children = new Map<string, PeerChildren>();

  constructor(private readonly options: TunnelMetricsOptions) {
    const { prefix, peerLabel } = options;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: `${prefix}_` });
    this.connectionsOpen = new Gauge({ name: `${prefix}_connections_open`, help: `Tunnel connections open, by ${peerLabel}`, labelNames: [peerLabel], registers });
    this.connectionsTotal = new Counter({ name: `${prefix}_connections_total`, help: `Tunnel connections established, by ${peerLabel}`, labelNames: [peerLabel], registers });
    const flushLive = (): void => {
      for (const [splice, seen] of this.live) this.flush(splice, seen);
    };
    this.bytes = new Counter({
      name: `${prefix}_bytes_total`,
      help: `Bytes carried, by ${peerLabel} and direction (upstream: host to plane; downstream: plane to host)`,
      labelNames: [peerLabel, 'direction'],
      registers,
      collect: flushLive,
    });
    this.handshakeSeconds = new Histogram({
      name: `${prefix}_tls_handshake_seconds`,
      help: `TLS handshake time, by ${peerLabel}`,
      labelNames: [peerLabel],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.sessionsResumed = new Counter({ name: `${prefix}_tls_sessions_resumed_total`, help: `TLS handshakes that resumed an earlier session, by ${peerLabel}`, labelNames: [peerLabel], registers });
    this.failures = new Counter({ name: `${prefix}_${options.failures.name}`, help: options.failures.help, labelNames: [peerLabel, 'cause'], registers });
  }

  /** Counts a spliced connection from now until both its sides have closed. */
  track(peer: string, splice: SocketSplice): void {
    const children = this.of(peer);
    children.open.inc();
    children.total.inc();
    const seen = { peer, upstream: 0, downstream: 0 };
    this.live.set(splice, seen);
    void splice.done.then(() => {
      this.flush(splice, seen);
      this.live.delete(splice);
      children.open.dec();
    });
  }

  handshake(peer: string, seconds: number, resumed: boolean): void {
    const children = this.of(peer);
    children.handshake.observe(seconds);
    if (resumed) children.resumed.inc();
  }

  failure(peer: string, cause: string): void {
    this.failures.inc({ [this.options.peerLabel]: peer, cause });
  }

  get openConnections(): number {
    return this.live.size;
  }

  private flush(splice: SocketSplice, seen: { peer: string; upstream: number; downstream: number }): void {
    if (splice.upstreamBytes > seen.upstream) {
      this.of(seen.peer).upstream.inc(splice.upstreamBytes - seen.upstream);
      seen.upstream = splice.upstreamBytes;
    }
    if (splice.downstreamBytes > seen.downstream) {
      this.of(seen.peer).downstream.inc(splice.downstreamBytes - seen.downstream);
      seen.downstream = splice.downstreamBytes;
    }
  }

  private of(peer: string): PeerChildren {
    let children = this.children.get(peer);
    if (children === undefined) {
      const peerLabel = this.options.peerLabel;
      const labels = { [peerLabel]: peer };
      children = {
        open: this.connectionsOpen.labels(labels),
        total: this.connectionsTotal.labels(labels),
        upstream: this.bytes.labels({ [peerLabel]: peer, direction: 'upstream' }),
        downstream: this.bytes.labels({ [peerLabel]: peer, direction: 'downstream' }),
        handshake: this.handshakeSeconds.labels(labels),
        resumed: this.sessionsResumed.labels(labels),
      };
      this.children.set(peer, children);
    }
    return children;
  }
}

interface PeerChildren {
  open: { inc(): void; dec(): void };
  total: { inc(): void };
  upstream: { inc(value: number): void };
  downstream: { inc(value: number): void };
  handshake: { observe(value: number): void };
  resumed: { inc(): void };
}
