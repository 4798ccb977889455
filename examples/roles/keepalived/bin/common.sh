# Sourced by the keepalived-vip hooks: paths under $PF9_ROOT and the python3 helper.
#
# This example only writes files: a real deployment's hooks would also run keepalived
# (configure: "systemctl reload keepalived", start/stop: systemctl start/stop, status:
# "systemctl is-active keepalived"), which needs root and touches the network.
root="${PF9_ROOT:-}"
root="${root%/}"
conf_dir="$root/etc/keepalived"
conf="$conf_dir/keepalived.conf"
marker="$root/var/run/keepalived.running"
helper="$(dirname "$0")/../lib/keepalived_conf.py"

need_python() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "keepalived-vip: python3 is required to render keepalived.conf (apt-get install python3-minimal)" >&2
    exit 1
  fi
}
