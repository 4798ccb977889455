#!/bin/sh
# nodelet-roles: master
# CoreDNS for the cluster, at DNS_IP, applied from the manifest template nodelet ships.
set -eu
. "$(dirname "$0")/lib/common.sh"

TEMPLATE="$(dirname "$0")/lib/coredns.yaml"
APPLIED="$KUBE_DIR/addons/coredns.yaml"

render() {
  sed -e "s#__DNS_IP__#${DNS_IP:-10.21.0.10}#g" -e "s#__REGISTRY__#${K8S_PRIVATE_REGISTRY:-registry.k8s.io}#g" \
    -e "s#__COREDNS_VERSION__#${COREDNS_VERSION:-v1.11.1}#g" "$TEMPLATE"
}

phase_start() {
  render | install_file 644 "$APPLIED" || true
  kubectl_admin apply -f "$APPLIED"
  kubectl_admin -n kube-system rollout status deployment/coredns --timeout=120s
}

phase_stop() {
  return 0
}

phase_status() {
  render | same_file "$APPLIED" || fail "$APPLIED is missing or out of date"
  ready=$(kubectl_admin -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}') || fail "no coredns deployment"
  [ "${ready:-0}" -ge 1 ] || fail "no coredns replica is ready"
}

dispatch "$@"
