#!/bin/sh
# Start containerd (systemd unit containerd.service) and wait until it answers.
set -eu
. "$(dirname "$0")/lib/common.sh"

phase_start() {
  need systemctl ctr
  systemctl enable --now containerd
  i=0
  until ctr version >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 60 ] || fail "containerd does not answer"
    sleep 1
  done
  say "containerd runs"
}

phase_stop() {
  is_true "${PF9_MANAGED_RUNTIME:-true}" || { say "the runtime is not nodelet's to stop"; return 0; }
  command -v systemctl >/dev/null 2>&1 && systemctl stop containerd || true
}

phase_status() {
  unit_active containerd || fail "containerd is not active"
  ctr version >/dev/null 2>&1 || fail "containerd does not answer"
}

dispatch "$@"
