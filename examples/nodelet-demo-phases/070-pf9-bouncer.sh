#!/bin/sh
# nodelet-roles: master
# Demo stand-in for services/nodelet/phases/070-pf9-bouncer.sh.
. "$(dirname "$0")/standin.sh" 'systemctl enable --now pf9-bouncer' "$@"
