#!/bin/sh
# nodelet-roles: none
# ROLE none: a node that is no Kubernetes node. Its start takes away whatever a master or
# worker left running; its status is healthy when nothing of Kubernetes runs.
set -eu
. "$(dirname "$0")/lib/common.sh"

leftovers() {
  unit_active pf9-kubelet && echo "pf9-kubelet is active"
  unit_active pf9-kube-proxy && echo "pf9-kube-proxy is active"
  daemon_running pf9-etcd && echo "etcd runs"
  daemon_running pf9-keepalived && echo "keepalived runs"
  return 0
}

phase_start() {
  if command -v systemctl >/dev/null 2>&1; then systemctl stop pf9-kubelet pf9-kube-proxy 2>/dev/null || true; fi
  stop_daemon pf9-etcd 20
  stop_daemon pf9-keepalived 10
  rm -rf "$KUBE_DIR/manifests" "$KUBECONFIG_DIR" "$ROOT/etc/keepalived/keepalived.conf" "$ROOT/etc/cni/net.d/10-pf9-bridge.conflist"
  say "nothing of Kubernetes is left running (the cluster CA, etcd data and backups are kept)"
}

phase_stop() {
  return 0
}

phase_status() {
  found=$(leftovers)
  [ -z "$found" ] || fail "still running: $found"
}

dispatch "$@"
