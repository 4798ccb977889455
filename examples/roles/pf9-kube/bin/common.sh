# Sourced by the pf9-kube hooks: where nodeletd is, and the file the role's configuration goes to.
#
# The role's config is a JSON object of nodelet's configuration keys (ROLE, CLUSTER_ID,
# KUBE_SERVICE_STATE, MASTER_VIP_*, ETCD_*, ETCD_BACKUP_*, ...). nodeletd validates it with
# the same rules the daemon applies, writes etc/pf9/nodelet/10-role.yaml, and the daemon
# applies it at once; the hooks never edit nodelet's files themselves.
root="${PF9_ROOT:-/}"
root="${root%/}"
ROLE_FILE=10-role.yaml

if [ -x "$root/opt/pf9/hostplane/bin/nodeletd" ]; then
  NODELETD="$root/opt/pf9/hostplane/bin/nodeletd"
elif command -v nodeletd >/dev/null 2>&1; then
  NODELETD=$(command -v nodeletd)
else
  echo "pf9-kube: nodeletd is not installed (expected $root/opt/pf9/hostplane/bin/nodeletd or nodeletd on PATH)" >&2
  exit 1
fi
export PF9_ROOT="${PF9_ROOT:-/}"

# On a host run by systemd, the daemon is the pf9-nodeletd unit; elsewhere something else runs it.
ensure_nodelet_running() {
  if [ -d /run/systemd/system ] && systemctl cat pf9-nodeletd >/dev/null 2>&1; then
    systemctl enable --now pf9-nodeletd
  fi
}
