#!/bin/sh
# nodelet-roles: master
# Demo stand-in for services/nodelet/phases/206-coredns.sh.
. "$(dirname "$0")/standin.sh" 'kubectl apply -f coredns.yaml' "$@"
