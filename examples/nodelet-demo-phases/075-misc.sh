#!/bin/sh
# Demo stand-in for services/nodelet/phases/075-misc.sh.
what='swapoff -a'
. "$(dirname "$0")/standin.sh"
