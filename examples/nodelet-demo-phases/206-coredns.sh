#!/bin/sh
# nodelet-roles: master
# Demo stand-in for services/nodelet/phases/206-coredns.sh.
what='kubectl apply -f coredns.yaml'
. "$(dirname "$0")/standin.sh"
