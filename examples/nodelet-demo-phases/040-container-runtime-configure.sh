#!/bin/sh
# Demo stand-in for services/nodelet/phases/040-container-runtime-configure.sh.
what='containerd config default, SystemdCgroup = true'
. "$(dirname "$0")/standin.sh"
