#!/bin/sh
# install-vendor-wheels.sh MODE ARGNAME CONSTRAINTS DIR PATTERN...
# (ARGNAME: the build argument that set MODE, named in messages)
# Install the wheels in DIR that match each PATTERN (one wheel per pattern) with pip, under CONSTRAINTS.
#   MODE auto:    install the wheels when every pattern matches, skip when none does
#   MODE require: every pattern must match, else fail with the fix
#   MODE off:     install nothing
# A pattern that matches several files, or only some patterns matching, is an error (ambiguous).
set -eu
mode="$1"; what="$2"; constraints="$3"; dir="$4"; shift 4
case "$mode" in
  auto|require|off) ;;
  *) echo "install-vendor-wheels: $what mode '$mode' is not one of auto, require, off" >&2; exit 1 ;;
esac
if [ "$mode" = off ]; then echo "install-vendor-wheels: $what: off" >&2; exit 0; fi
wheels=""; missing=""
for pattern in "$@"; do
  # shellcheck disable=SC2046  # wheel file names have no spaces; splitting the list is the point
  set -- $(find "$dir" -maxdepth 1 -type f -name "$pattern" | sort)
  if [ $# -gt 1 ]; then
    echo "install-vendor-wheels: several files in vendor/ match $pattern ($*): keep exactly one" >&2; exit 1
  fi
  if [ $# -eq 0 ]; then missing="$missing $pattern"; else wheels="$wheels $1"; fi
done
if [ -z "$missing" ]; then
  # shellcheck disable=SC2086
  pip install --no-cache-dir -c "$constraints" $wheels
  echo "install-vendor-wheels: $what installed:$wheels" >&2
elif [ "$mode" = auto ] && [ -z "$wheels" ]; then
  echo "install-vendor-wheels: $what: no wheel in vendor/, not installed" >&2
else
  echo "install-vendor-wheels: $what: vendor/ lacks$missing. Put the wheel(s) from the Hailo Developer Zone" \
       "(or pytorch.org) into vendor/ and rebuild, or build without it: --build-arg $what=off (docs/containers.md)." >&2
  exit 1
fi
