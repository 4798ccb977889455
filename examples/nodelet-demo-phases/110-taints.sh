#!/bin/sh
# Demo stand-in for services/nodelet/phases/110-taints.sh.
what='kubectl label / taint node'
. "$(dirname "$0")/standin.sh"
