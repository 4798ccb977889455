#!/bin/sh
# Demo stand-in for services/nodelet/phases/100-wait-for-k8s-services.sh.
what='kubectl get --raw /readyz'
. "$(dirname "$0")/standin.sh"
