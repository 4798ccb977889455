#!/bin/sh
# Demo stand-in for services/nodelet/phases/048-images-load.sh.
. "$(dirname "$0")/standin.sh" 'ctr -n k8s.io images import' "$@"
