#!/bin/sh
# What the kubelet expects of the host: swap off (unless ALLOW_SWAP), its folders.
set -eu
. "$(dirname "$0")/lib/common.sh"

swap_on() { [ "$(awk 'NR > 1' /proc/swaps | wc -l)" -gt 0 ]; }

phase_start() {
  if ! is_true "${ALLOW_SWAP:-false}" && swap_on; then swapoff -a || fail "cannot turn swap off"; fi
  mkdir -p "$ROOT/var/lib/kubelet" "$LOG_DIR" "$STATE_DIR" "$KUBE_DIR/manifests"
}

phase_stop() {
  return 0
}

phase_status() {
  if ! is_true "${ALLOW_SWAP:-false}" && swap_on; then fail "swap is on"; fi
  [ -d "$KUBE_DIR/manifests" ] || fail "$KUBE_DIR/manifests is missing"
}

dispatch "$@"
