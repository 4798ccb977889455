#!/bin/sh
# Demo stand-in for services/nodelet/phases/060-network.sh.
what='sysctl net.ipv4.ip_forward=1, bridge-nf-call-iptables'
. "$(dirname "$0")/standin.sh"
