#!/bin/sh
# Demo stand-in for services/nodelet/phases/060-network.sh.
. "$(dirname "$0")/standin.sh" 'sysctl net.ipv4.ip_forward=1, bridge-nf-call-iptables' "$@"
