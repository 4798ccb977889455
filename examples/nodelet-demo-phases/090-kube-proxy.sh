#!/bin/sh
# Demo stand-in for services/nodelet/phases/090-kube-proxy.sh.
. "$(dirname "$0")/standin.sh" 'systemctl restart pf9-kube-proxy' "$@"
