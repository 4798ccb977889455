#!/bin/sh
# Demo stand-in for services/nodelet/phases/080-kubelet.sh.
what='systemctl restart pf9-kubelet (and the static pods of the control plane)'
. "$(dirname "$0")/standin.sh"
