#!/bin/sh
# Demo stand-in for services/nodelet/phases/110-taints.sh.
. "$(dirname "$0")/standin.sh" 'kubectl label / taint node' "$@"
