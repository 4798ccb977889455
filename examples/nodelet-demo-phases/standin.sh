# Sourced by the demo's stand-in phases: a marker file under PF9_ROOT stands for the
# component (whose binaries are not on a development machine). `what` (set before) says
# what the shipped phase runs on a real node; the operation is the phase's own $1.
set -eu
ROOT="${PF9_ROOT:-/}"
ROOT="${ROOT%/}"
marker="$ROOT/var/run/pf9/demo/${NODELET_PHASE:-phase}.up"
case "${1:-}" in
  start)
    mkdir -p "$(dirname "$marker")"
    touch "$marker"
    echo "${NODELET_PHASE:-phase}: stand-in started (on a node: $what)"
    ;;
  stop)
    rm -f "$marker"
    echo "${NODELET_PHASE:-phase}: stand-in stopped"
    ;;
  status)
    [ -f "$marker" ] || { echo "${NODELET_PHASE:-phase}: stand-in not running"; exit 1; }
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
