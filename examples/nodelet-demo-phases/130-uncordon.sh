#!/bin/sh
# Demo stand-in for services/nodelet/phases/130-uncordon.sh.
what='kubectl uncordon'
. "$(dirname "$0")/standin.sh"
