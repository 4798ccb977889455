import { TunnelMetrics } from '../../libs/tunnel';

/** The tunnel's metrics on the plane side: label `route` (the ALPN protocol, `none` before one is known). */
export class IngressMetrics extends TunnelMetrics {
  constructor() {
    super({
      prefix: 'hostplane_ingress',
      peerLabel: 'route',
      failures: { name: 'refusals_total', help: 'Connections refused or not carried to their backend, by route and cause' },
    });
  }
}
