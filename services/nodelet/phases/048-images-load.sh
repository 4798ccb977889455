#!/bin/sh
# Load the image archives in USER_IMAGES_DIR (air-gapped nodes) into containerd's k8s.io namespace.
set -eu
. "$(dirname "$0")/lib/common.sh"

IMAGES_DIR="${USER_IMAGES_DIR:-$ROOT/var/opt/pf9/images}"
LOADED="$STATE_DIR/images.sha256"

sums() { find "$IMAGES_DIR" -maxdepth 1 -type f \( -name '*.tar' -o -name '*.tar.gz' \) -exec sha256sum {} + 2>/dev/null | sort; }

phase_start() {
  [ -d "$IMAGES_DIR" ] || { say "no $IMAGES_DIR: nothing to load"; sums | install_file 600 "$LOADED" || true; return 0; }
  need ctr
  for archive in "$IMAGES_DIR"/*.tar "$IMAGES_DIR"/*.tar.gz; do
    [ -f "$archive" ] || continue
    say "importing $archive"
    case $archive in
      *.gz) gzip -dc "$archive" | ctr -n k8s.io images import - ;;
      *) ctr -n k8s.io images import "$archive" ;;
    esac
  done
  sums | install_file 600 "$LOADED" || true
}

phase_stop() {
  rm -f "$LOADED"
}

phase_status() {
  sums | same_file "$LOADED" || fail "the archives in $IMAGES_DIR changed since they were loaded"
}

dispatch "$@"
