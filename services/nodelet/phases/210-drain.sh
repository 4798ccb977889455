#!/bin/sh
# Drain (stop only): before this node's components stop, its pods move elsewhere. When it
# starts again after a drain, the node is uncordoned here (a restart from a late phase does
# not pass through phase 130).
set -eu
. "$(dirname "$0")/lib/common.sh"

MARKER="$STATE_DIR/drained"

phase_start() {
  if [ -f "$MARKER" ]; then kubectl_admin uncordon "$NODE_NAME" && rm -f "$MARKER"; fi
  return 0
}

phase_stop() {
  command -v kubectl >/dev/null 2>&1 && [ -f "$ADMIN_KUBECONFIG" ] || { say "no kubectl or admin kubeconfig: nothing to drain"; return 0; }
  kubectl_admin get node "$NODE_NAME" >/dev/null 2>&1 || { say "node $NODE_NAME is not registered: nothing to drain"; return 0; }
  mkdir -p "$STATE_DIR" && touch "$MARKER"
  kubectl_admin drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --force --timeout="${DRAIN_TIMEOUT:-300s}"
}

phase_status() {
  return 0
}

dispatch "$@"
