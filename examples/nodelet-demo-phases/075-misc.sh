#!/bin/sh
# Demo stand-in for services/nodelet/phases/075-misc.sh.
. "$(dirname "$0")/standin.sh" 'swapoff -a' "$@"
