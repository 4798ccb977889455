#!/bin/sh
# nodelet-roles: master
# pf9-bouncer: the API server's token webhook, backed by the plane's operators.
set -eu
. "$(dirname "$0")/lib/common.sh"

PORT="${BOUNCER_PORT:-8082}"

phase_start() {
  need systemctl
  systemctl enable --now pf9-bouncer || fail "cannot start pf9-bouncer (is the bouncer installed?)"
}

phase_stop() {
  command -v systemctl >/dev/null 2>&1 && systemctl stop pf9-bouncer || true
}

phase_status() {
  curl -fsS --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "pf9-bouncer does not answer on 127.0.0.1:$PORT"
}

dispatch "$@"
