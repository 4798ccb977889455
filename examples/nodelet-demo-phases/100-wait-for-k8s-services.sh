#!/bin/sh
# Demo stand-in for services/nodelet/phases/100-wait-for-k8s-services.sh.
. "$(dirname "$0")/standin.sh" 'kubectl get --raw /readyz' "$@"
