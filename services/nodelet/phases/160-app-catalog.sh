#!/bin/sh
# nodelet-roles: master
# The app catalog (APP_CATALOG_ENABLED): its manifest (APP_CATALOG_MANIFEST) applied to the cluster.
set -eu
. "$(dirname "$0")/lib/common.sh"

MANIFEST="${APP_CATALOG_MANIFEST:-$ROOT/opt/pf9/pf9-kube/conf/appcatalog/appcatalog.yaml}"

phase_start() {
  is_true "${APP_CATALOG_ENABLED:-false}" || { say "the app catalog is not enabled"; return 0; }
  [ -f "$MANIFEST" ] || fail "$MANIFEST does not exist"
  kubectl_admin apply -f "$MANIFEST"
}

phase_stop() {
  is_true "${APP_CATALOG_ENABLED:-false}" || return 0
  [ -f "$MANIFEST" ] && kubectl_admin delete --ignore-not-found -f "$MANIFEST" || true
}

phase_status() {
  is_true "${APP_CATALOG_ENABLED:-false}" || return 0
  kubectl_admin diff -f "$MANIFEST" >/dev/null 2>&1 || fail "the app catalog differs from $MANIFEST (or the API does not answer)"
}

dispatch "$@"
