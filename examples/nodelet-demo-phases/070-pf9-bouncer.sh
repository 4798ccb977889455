#!/bin/sh
# nodelet-roles: master
# Demo stand-in for services/nodelet/phases/070-pf9-bouncer.sh.
what='systemctl enable --now pf9-bouncer'
. "$(dirname "$0")/standin.sh"
