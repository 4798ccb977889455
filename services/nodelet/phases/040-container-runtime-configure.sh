#!/bin/sh
# Configure containerd (the container runtime): its config.toml with the systemd cgroup driver
# and the sandbox image, and the kernel modules it needs.
set -eu
. "$(dirname "$0")/lib/common.sh"

CONF="${CONTAINERD_CONFIG:-$ROOT/etc/containerd/config.toml}"
SANDBOX_IMAGE="${SANDBOX_IMAGE:-${K8S_PRIVATE_REGISTRY:-registry.k8s.io}/pause:3.9}"

render() {
  need containerd
  containerd config default | sed \
    -e "s#SystemdCgroup = false#SystemdCgroup = ${CONTAINERD_SYSTEMD_CGROUP:-true}#" \
    -e "s#sandbox_image = \".*\"#sandbox_image = \"$SANDBOX_IMAGE\"#"
}

phase_start() {
  for module in overlay br_netfilter; do modprobe "$module" 2>/dev/null || say "could not load $module (built in?)"; done
  if render | install_file 644 "$CONF"; then say "wrote $CONF"; fi
}

phase_stop() {
  return 0
}

phase_status() {
  render | same_file "$CONF" || fail "$CONF is missing or differs from what nodelet writes"
}

dispatch "$@"
