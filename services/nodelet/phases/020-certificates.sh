#!/bin/sh
# Certificates of this node, signed by the cluster CA in etc/pf9/kube.d/certs/ca.{crt,key}
# (every master of a cluster holds the same CA; the first one makes it when there is none).
# Not redone when nodelet restarts phases, unless its own check failed (or --regen-certs).
set -eu
. "$(dirname "$0")/lib/common.sh"

DAYS="${CERT_DAYS:-365}"
SERVICE_IP="${SERVICE_IP:-$(echo "${SERVICES_CIDR:-10.21.0.0/16}" | awk -F'[./]' '{print $1"."$2"."$3"."$4+1}')}"
NODE_IP="${NODE_IP:-$(hostname -I 2>/dev/null | awk '{print $1}')}"

# name CN O SANS(comma list, may be empty) USAGE(server|client|both)
certs() {
  echo "admin admin system:masters - client"
  echo "kubelet system:node:$NODE_NAME system:nodes IP:${NODE_IP:-127.0.0.1},DNS:$NODE_NAME both"
  echo "kube-proxy system:kube-proxy system:node-proxier - client"
  if [ "${ROLE:-}" = master ]; then
    sans="IP:127.0.0.1,IP:$SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    [ -n "${MASTER_IP:-}" ] && sans="$sans,IP:$MASTER_IP"
    [ -n "${NODE_IP:-}" ] && sans="$sans,IP:$NODE_IP"
    [ -n "${EXTERNAL_DNS_NAME:-}" ] && sans="$sans,DNS:$EXTERNAL_DNS_NAME"
    echo "apiserver kube-apiserver kubernetes $sans server"
    echo "apiserver-kubelet-client kube-apiserver-kubelet-client system:masters - client"
    echo "controller-manager system:kube-controller-manager - - client"
    echo "scheduler system:kube-scheduler - - client"
    echo "etcd/server etcd - IP:127.0.0.1,IP:${NODE_IP:-127.0.0.1},DNS:$NODE_NAME server"
    echo "etcd/peer etcd - IP:127.0.0.1,IP:${NODE_IP:-127.0.0.1},DNS:$NODE_NAME both"
    echo "etcd/client etcdctl - - client"
  fi
}

ensure_ca() {
  [ -f "$CERTS_DIR/ca.crt" ] && [ -f "$CERTS_DIR/ca.key" ] && return 0
  mkdir -p "$CERTS_DIR" && chmod 700 "$CERTS_DIR"
  say "no cluster CA here: making one (copy $CERTS_DIR/ca.crt and ca.key to the cluster's other masters)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=pf9-kube-ca-${CLUSTER_ID:-cluster}" -keyout "$CERTS_DIR/ca.key" -out "$CERTS_DIR/ca.crt" 2>/dev/null
  chmod 600 "$CERTS_DIR/ca.key"
}

issue() {
  name=$1 cn=$2 org=$3 sans=$4 usage=$5
  dir="$CERTS_DIR/$(dirname "$name")"
  base="$CERTS_DIR/$name"
  mkdir -p "$dir"
  subj="/CN=$cn"
  [ "$org" != - ] && subj="/O=$org$subj"
  ext=$(mktemp)
  case $usage in
    server) eku=serverAuth ;;
    client) eku=clientAuth ;;
    *) eku=serverAuth,clientAuth ;;
  esac
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ "$sans" != - ] && echo "subjectAltName=$sans"
  } > "$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" -keyout "$base.key" -out "$base.csr" 2>/dev/null
  openssl x509 -req -in "$base.csr" -CA "$CERTS_DIR/ca.crt" -CAkey "$CERTS_DIR/ca.key" -CAcreateserial \
    -days "$DAYS" -extfile "$ext" -out "$base.crt" 2>/dev/null
  chmod 600 "$base.key"
  rm -f "$base.csr" "$ext"
}

phase_start() {
  need openssl
  ensure_ca
  certs | while read -r name cn org sans usage; do
    issue "$name" "$cn" "$org" "$sans" "$usage"
    say "issued $name ($cn)"
  done
}

phase_stop() {
  # The node's certificates go; the cluster CA stays (the cluster needs it).
  certs | while read -r name _; do rm -f "$CERTS_DIR/$name.crt" "$CERTS_DIR/$name.key"; done
}

phase_status() {
  need openssl
  [ -f "$CERTS_DIR/ca.crt" ] || fail "no cluster CA at $CERTS_DIR/ca.crt"
  certs | while read -r name _; do
    crt="$CERTS_DIR/$name.crt"
    [ -f "$crt" ] && [ -f "$CERTS_DIR/$name.key" ] || fail "$name: certificate or key missing"
    openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null || fail "$name: expires within a day"
    openssl verify -CAfile "$CERTS_DIR/ca.crt" "$crt" >/dev/null 2>&1 || fail "$name: not signed by the cluster CA"
  done
}

dispatch "$@"
