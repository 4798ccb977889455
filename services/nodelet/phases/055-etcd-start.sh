#!/bin/sh
# nodelet-roles: master
# Start etcd from the configuration phase 50 wrote; healthy when its /health says so. Before
# another etcd version first touches the data, a copy of the data's database is kept.
set -eu
. "$(dirname "$0")/lib/common.sh"

ETCD_BIN="${ETCD_BIN:-etcd}"
ETCD_DATA_DIR="${ETCD_DATA_DIR:-$ROOT/var/opt/pf9/kube/etcd/data}"
scheme=http
is_true "${ETCD_TLS:-false}" && scheme=https
ENDPOINT="${ETCD_LOCAL_ENDPOINT:-$scheme://127.0.0.1:${ETCD_CLIENT_PORT:-2379}}"
CONF="$KUBE_DIR/etcd/etcd.conf.yml"
VERSION_FILE="$ROOT/var/opt/pf9/etcd_version"
BACKUP_DIR="${ETCD_BACKUP_DIR:-$ROOT/etc/pf9/etcd-backup}"

curl_etcd() {
  if [ "$scheme" = https ]; then
    curl -fsS --max-time 5 --cacert "$CERTS_DIR/ca.crt" --cert "$CERTS_DIR/etcd/client.crt" --key "$CERTS_DIR/etcd/client.key" "$ENDPOINT$1"
  else
    curl -fsS --max-time 5 "$ENDPOINT$1"
  fi
}

installed_version() { "$ETCD_BIN" --version 2>/dev/null | sed -n 's/^etcd Version: *//p' | head -n 1; }
healthy() { curl_etcd /health 2>/dev/null | grep -q '"health": *"true"'; }

phase_start() {
  need "$ETCD_BIN" curl
  [ -f "$CONF" ] || fail "$CONF is missing: phase 50 configures etcd"
  version=$(installed_version)
  [ -n "$version" ] || fail "cannot tell the version of $ETCD_BIN"
  if [ -n "${ETCD_VERSION:-}" ] && [ "$version" != "$ETCD_VERSION" ]; then
    fail "the configuration asks for etcd $ETCD_VERSION, this node has $version: install that version first"
  fi
  if daemon_running pf9-etcd && healthy; then say "etcd $version is running"; return 0; fi
  previous=$(cat "$VERSION_FILE" 2>/dev/null || true)
  if [ -n "$previous" ] && [ "$previous" != "$version" ] && [ -f "$ETCD_DATA_DIR/member/snap/db" ]; then
    mkdir -p "$BACKUP_DIR" && chmod 700 "$BACKUP_DIR"
    copy="$BACKUP_DIR/etcd-pre-upgrade-$previous-to-$version-$(date -u +%Y%m%dT%H%M%SZ).db"
    cp "$ETCD_DATA_DIR/member/snap/db" "$copy.part" && chmod 600 "$copy.part" && mv "$copy.part" "$copy"
    say "etcd changes from $previous to $version: kept the data as $copy (etcdctl snapshot restore --skip-hash-check)"
  fi
  stop_daemon pf9-etcd 20
  # A clean environment: etcd reads every ETCD_* variable as a flag, and kube.env has many.
  run_daemon pf9-etcd "$LOG_DIR/etcd.log" env -i PATH="$PATH" "$ETCD_BIN" --config-file "$CONF"
  i=0
  until healthy; do
    daemon_running pf9-etcd || fail "etcd exited; see $LOG_DIR/etcd.log"
    i=$((i + 1))
    [ $i -lt $((${ETCD_START_TIMEOUT:-60} * 5)) ] || fail "etcd is not healthy after ${ETCD_START_TIMEOUT:-60} s; see $LOG_DIR/etcd.log"
    sleep 0.2
  done
  mkdir -p "$(dirname "$VERSION_FILE")"
  echo "$version" > "$VERSION_FILE"
  say "etcd $version is healthy at $ENDPOINT"
}

phase_stop() {
  stop_daemon pf9-etcd 20
}

phase_status() {
  daemon_running pf9-etcd || fail "etcd is not running"
  healthy || fail "etcd does not answer healthy at $ENDPOINT/health"
  if [ -n "${ETCD_VERSION:-}" ]; then
    running=$(curl_etcd /version | sed -n 's/.*"etcdserver": *"\([^"]*\)".*/\1/p')
    [ "$running" = "$ETCD_VERSION" ] || fail "etcd $running runs, the configuration asks for $ETCD_VERSION"
  fi
}

dispatch "$@"
