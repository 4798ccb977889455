#!/bin/sh
# Wait until the Kubernetes API answers ready, and this node is registered in it.
set -eu
. "$(dirname "$0")/lib/common.sh"

ready() { kubectl_admin get --raw /readyz >/dev/null 2>&1 && kubectl_admin get node "$NODE_NAME" >/dev/null 2>&1; }

phase_start() {
  need kubectl
  i=0
  until ready; do
    i=$((i + 1)); [ $i -lt "${K8S_WAIT_S:-300}" ] || fail "the Kubernetes API or node $NODE_NAME is not ready after ${K8S_WAIT_S:-300} s"
    sleep 1
  done
  say "the API is ready and $NODE_NAME is registered"
}

phase_stop() {
  return 0
}

phase_status() {
  ready || fail "the Kubernetes API is not ready, or $NODE_NAME is not registered"
}

dispatch "$@"
