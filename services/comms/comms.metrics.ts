import { Counter, Gauge } from 'prom-client';
import { TunnelMetrics } from '../../libs/tunnel';

/** The tunnel's metrics on the host side (label `service`), and whether the plane answers. */
export class CommsMetrics extends TunnelMetrics {
  readonly planeReachable: Gauge;
  readonly resumptionsDeclined: Counter<'service'>;

  constructor() {
    super({
      prefix: 'hostplane_comms',
      peerLabel: 'service',
      failures: { name: 'upstream_failures_total', help: 'Local connections that could not be carried to the plane, by service and cause' },
    });
    this.planeReachable = new Gauge({
      name: 'hostplane_comms_plane_reachable',
      help: '1 while the plane answers, 0 while comms refuses local connections and probes it',
      registers: [this.registry],
    });
    this.resumptionsDeclined = new Counter({
      name: 'hostplane_comms_tls_resumptions_declined_total',
      help: 'Resumptions offered with classical key exchange that the plane declined (a classical full handshake, dropped and made again with the configured groups), by service',
      labelNames: ['service'],
      registers: [this.registry],
    });
  }
}
