#!/bin/sh
# Kubelet settings that change at run time (KUBELET_DYNAMIC_CONFIG: a KubeletConfiguration
# file the cluster provides), as a drop-in the kubelet reads; the kubelet restarts when it
# changes. (Kubernetes removed dynamic kubelet configuration in 1.24; drop-ins replace it.)
set -eu
. "$(dirname "$0")/lib/common.sh"

DROPIN_DIR="$KUBE_DIR/kubelet-config.d"
DROPIN="$DROPIN_DIR/50-nodelet.conf"

render() {
  if [ -n "${KUBELET_DYNAMIC_CONFIG:-}" ] && [ -f "$KUBELET_DYNAMIC_CONFIG" ]; then cat "$KUBELET_DYNAMIC_CONFIG"; fi
}

phase_start() {
  if [ -z "${KUBELET_DYNAMIC_CONFIG:-}" ]; then rm -f "$DROPIN"; say "no dynamic kubelet configuration"; return 0; fi
  [ -f "$KUBELET_DYNAMIC_CONFIG" ] || fail "$KUBELET_DYNAMIC_CONFIG does not exist"
  if render | install_file 644 "$DROPIN"; then
    say "kubelet configuration changed: restarting pf9-kubelet"
    systemctl restart pf9-kubelet
  fi
}

phase_stop() {
  rm -f "$DROPIN"
}

phase_status() {
  [ -z "${KUBELET_DYNAMIC_CONFIG:-}" ] && return 0
  render | same_file "$DROPIN" || fail "$DROPIN differs from $KUBELET_DYNAMIC_CONFIG"
}

dispatch "$@"
