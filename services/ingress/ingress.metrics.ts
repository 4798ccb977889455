import { Gauge } from 'prom-client';
import { TunnelMetrics } from '../../libs/tunnel';

/** The tunnel's metrics on the plane side (label `route`: the ALPN protocol, `none` before one is known), and when its certificate expires. */
export class IngressMetrics extends TunnelMetrics {
  readonly certificateNotAfter: Gauge;

  constructor() {
    super({
      prefix: 'hostplane_ingress',
      peerLabel: 'route',
      failures: { name: 'refusals_total', help: 'Connections refused or not carried to their backend, by route and cause' },
    });
    this.certificateNotAfter = new Gauge({
      name: 'hostplane_ingress_certificate_expiry_timestamp_seconds',
      help: "When the ingress's certificate in use expires (Unix time)",
      registers: [this.registry],
    });
  }
}
