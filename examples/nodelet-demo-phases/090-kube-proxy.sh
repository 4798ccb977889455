#!/bin/sh
# Demo stand-in for services/nodelet/phases/090-kube-proxy.sh.
what='systemctl restart pf9-kube-proxy'
. "$(dirname "$0")/standin.sh"
