#!/bin/sh
# CNI: the bridge configuration for pods on this node (CONTAINERS_CIDR / POD_CIDR); a network
# plugin (calico, flannel) installed by the cluster replaces it with its own.
set -eu
. "$(dirname "$0")/lib/common.sh"

CNI_DIR="${CNI_CONFIG_DIR:-$ROOT/etc/cni/net.d}"
CONF="$CNI_DIR/10-pf9-bridge.conflist"
POD_CIDR="${POD_CIDR:-${CONTAINERS_CIDR:-10.20.0.0/16}}"

render() {
  cat <<CNI
{
  "cniVersion": "1.0.0",
  "name": "pf9-bridge",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
}

phase_start() {
  [ -n "${NETWORK_PLUGIN:-}" ] && [ "$NETWORK_PLUGIN" != bridge ] && { say "network plugin $NETWORK_PLUGIN brings its own CNI configuration"; return 0; }
  render | install_file 644 "$CONF" && say "wrote $CONF" || true
}

phase_stop() {
  rm -f "$CONF"
}

phase_status() {
  [ -n "${NETWORK_PLUGIN:-}" ] && [ "$NETWORK_PLUGIN" != bridge ] && return 0
  render | same_file "$CONF" || fail "$CONF is missing or out of date"
}

dispatch "$@"
