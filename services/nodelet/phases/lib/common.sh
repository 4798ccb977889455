# Sourced by every shipped phase. nodelet runs a phase as `<phase> start|stop|status` with
# kube.env (then kube_override.env) in its environment, PF9_ROOT set (empty prefix on a
# real host), and answers by the exit code. Phases print what they do: the last lines of
# a failure reach the status file and the plane.

ROOT="${PF9_ROOT:-/}"
ROOT="${ROOT%/}"
KUBE_DIR="$ROOT/etc/pf9/kube.d"
CERTS_DIR="$KUBE_DIR/certs"
KUBECONFIG_DIR="$KUBE_DIR/kubeconfigs"
ADMIN_KUBECONFIG="$KUBECONFIG_DIR/admin.yaml"
RUN_DIR="$ROOT/var/run/pf9"
STATE_DIR="$ROOT/var/opt/pf9/kube"
LOG_DIR="$ROOT/var/log/pf9/kube"
NODE_NAME="${NODE_NAME:-$(hostname)}"
K8S_API_PORT="${K8S_API_PORT:-443}"
API_SERVER="https://${MASTER_IP:-127.0.0.1}:${K8S_API_PORT}"
[ "${DEBUG:-false}" = true ] && set -x

say() { echo "${NODELET_PHASE:-phase}: $*"; }
fail() { echo "${NODELET_PHASE:-phase}: $*" >&2; exit 1; }
need() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || fail "$c is not installed on this node"; done; }
is_true() { [ "$1" = true ] || [ "$1" = 1 ] || [ "$1" = yes ]; }

# install_file MODE TARGET: standard input becomes TARGET, atomically; exit 0 when it changed.
install_file() {
  mode=$1 target=$2
  mkdir -p "$(dirname "$target")"
  tmp="$target.nodelet-tmp.$$"
  cat > "$tmp" && chmod "$mode" "$tmp" || { rm -f "$tmp"; fail "cannot write $target"; }
  if [ -f "$target" ] && cmp -s "$tmp" "$target"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$target"
}

# same_file TARGET: standard input equals TARGET's content (drift detection by content).
same_file() { [ -f "$1" ] && cmp -s - "$1"; }

kubectl_admin() { need kubectl; kubectl --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

# Long-running components: under systemd as transient units where systemd runs, else in the
# background, in a session of their own, with a pid file (so nodelet's restarts and
# timeouts never reach them).
use_systemd() { [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; }
pid_file() { echo "$RUN_DIR/$1.pid"; }

run_daemon() {
  name=$1 logfile=$2
  shift 2
  if use_systemd; then
    systemctl reset-failed "$name" >/dev/null 2>&1 || true
    systemd-run --quiet --unit="$name" --collect --property=Restart=on-failure "$@"
    return
  fi
  mkdir -p "$RUN_DIR" "$(dirname "$logfile")"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! > "$(pid_file "$name")"
}

daemon_running() {
  if use_systemd; then systemctl is-active --quiet "$1"; return; fi
  pid=$(cat "$(pid_file "$1")" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  ! grep -q '^[0-9]* (.*) Z' "/proc/$pid/stat" 2>/dev/null
}

stop_daemon() {
  name=$1 wait_s=${2:-20}
  if use_systemd; then systemctl stop "$name" 2>/dev/null || true; return 0; fi
  pid=$(cat "$(pid_file "$name")" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while daemon_running "$name" && [ $i -lt $((wait_s * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    daemon_running "$name" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$(pid_file "$name")"
}

unit_active() { command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1"; }

dispatch() {
  case "${1:-}" in
    start) phase_start ;;
    stop) phase_stop ;;
    status) phase_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}
