#!/bin/sh
# Demo stand-in for services/nodelet/phases/045-container-runtime-start.sh.
what='systemctl enable --now containerd'
. "$(dirname "$0")/standin.sh"
