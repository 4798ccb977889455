#!/bin/sh
# Let the scheduler place pods on this node again.
set -eu
. "$(dirname "$0")/lib/common.sh"

phase_start() {
  kubectl_admin uncordon "$NODE_NAME"
}

phase_stop() {
  return 0
}

phase_status() {
  unschedulable=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.spec.unschedulable}') || fail "cannot read node $NODE_NAME"
  [ "$unschedulable" != true ] || fail "node $NODE_NAME is cordoned"
}

dispatch "$@"
