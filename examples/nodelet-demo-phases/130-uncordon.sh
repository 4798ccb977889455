#!/bin/sh
# Demo stand-in for services/nodelet/phases/130-uncordon.sh.
. "$(dirname "$0")/standin.sh" 'kubectl uncordon' "$@"
