#!/bin/sh
# Demo stand-in for services/nodelet/phases/045-container-runtime-start.sh.
. "$(dirname "$0")/standin.sh" 'systemctl enable --now containerd' "$@"
