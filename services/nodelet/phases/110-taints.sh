#!/bin/sh
# The node's role label, and on masters the taint that keeps workloads off (unless ALLOW_WORKLOADS_ON_MASTER).
set -eu
. "$(dirname "$0")/lib/common.sh"

TAINT="node-role.kubernetes.io/control-plane"

wants_taint() { [ "${ROLE:-}" = master ] && ! is_true "${ALLOW_WORKLOADS_ON_MASTER:-false}"; }

phase_start() {
  kubectl_admin label node "$NODE_NAME" --overwrite "node-role.kubernetes.io/${ROLE:-worker}="
  if wants_taint; then
    kubectl_admin taint node "$NODE_NAME" --overwrite "$TAINT=:NoSchedule"
  else
    kubectl_admin taint node "$NODE_NAME" "$TAINT:NoSchedule-" 2>/dev/null || true
  fi
}

phase_stop() {
  return 0
}

phase_status() {
  labels=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.metadata.labels}') || fail "cannot read node $NODE_NAME"
  echo "$labels" | grep -q "node-role.kubernetes.io/${ROLE:-worker}" || fail "node $NODE_NAME lacks its role label"
  taints=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}')
  if wants_taint; then echo "$taints" | grep -q "$TAINT" || fail "master $NODE_NAME is not tainted"; fi
}

dispatch "$@"
