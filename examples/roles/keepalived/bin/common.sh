# Sourced by the keepalived-vip hooks: paths under $PF9_ROOT and the awk programs.
#
# This example only writes files: a real deployment's hooks would also run keepalived
# (configure: "systemctl reload keepalived", start/stop: systemctl start/stop, status:
# "systemctl is-active keepalived"), which needs root and touches the network.
root="${PF9_ROOT:-}"
root="${root%/}"
conf_dir="$root/etc/keepalived"
conf="$conf_dir/keepalived.conf"
marker="$root/var/run/keepalived.running"
lib="$(dirname "$0")/../lib"

need_awk() {
  if ! command -v awk >/dev/null 2>&1; then
    echo "keepalived-vip: awk is required to render keepalived.conf (Debian: apt-get install mawk)" >&2
    exit 1
  fi
}
