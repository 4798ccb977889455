#!/bin/sh
# Demo stand-in for services/nodelet/phases/080-kubelet.sh.
. "$(dirname "$0")/standin.sh" 'systemctl restart pf9-kubelet (and the control plane's static pods)' "$@"
