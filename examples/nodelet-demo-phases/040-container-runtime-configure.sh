#!/bin/sh
# Demo stand-in for services/nodelet/phases/040-container-runtime-configure.sh.
. "$(dirname "$0")/standin.sh" 'containerd config default, SystemdCgroup = true' "$@"
