#!/bin/sh
# Demo stand-in for services/nodelet/phases/048-images-load.sh.
what='ctr -n k8s.io images import'
. "$(dirname "$0")/standin.sh"
