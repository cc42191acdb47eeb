#!/bin/sh
# edgenas container entrypoint: fail fast when a Hailo device is passed in but the host's hailo_pci driver and
# the image's HailoRT differ (HailoRT requires an exact version match: HAILO_INVALID_DRIVER_VERSION otherwise),
# then run `edgenas "$@"`.
#   EDGENAS_HAILO_CHECK               auto (default: check when the device node exists) | require | off
#   EDGENAS_HAILO_DEVICE              device node (default /dev/hailo0)
#   EDGENAS_HAILO_DRIVER_VERSION_FILE driver version (default /sys/module/hailo_pci/version)
#   EDGENAS_REQUIRE                   names of settings that must be non-empty (compose.yaml's runtime service
#                                     uses it: compose interpolates every service, so `${VAR:?}` there would
#                                     also stop `docker compose run compile ...`)
set -eu
mode="${EDGENAS_HAILO_CHECK:-auto}"
dev="${EDGENAS_HAILO_DEVICE:-/dev/hailo0}"
drv_file="${EDGENAS_HAILO_DRIVER_VERSION_FILE:-/sys/module/hailo_pci/version}"

fail() { echo "error: $*" >&2; exit 1; }

check_hailo() {
  [ -e "$dev" ] || fail "no Hailo device at $dev. Pass it in: docker run --device $dev ... (compose: --profile hailo);" \
    "on the host, 'ls /dev/hailo*' must list it (driver loaded: sudo modprobe hailo_pci)."
  [ -r "$drv_file" ] || fail "$drv_file is missing: the hailo_pci kernel driver is not loaded on the host." \
    "Install the hailort-drivers (PCIe driver) of the image's HailoRT version and load it (sudo modprobe hailo_pci)."
  drv=$(tr -d ' \n' < "$drv_file")
  lib=$(python -c 'import sys, hailo_platform; sys.stdout.write(hailo_platform.__version__)' 2>/tmp/hailo-import.err) \
    || fail "a Hailo device is present but HailoRT (hailo_platform) does not import in this image" \
            "($(tail -n1 /tmp/hailo-import.err)). Put hailort-$drv-cp311-*.whl into vendor/ and rebuild:" \
            "docker build --build-arg HAILORT=require -f docker/runtime.Dockerfile ."
  [ "$drv" = "$lib" ] || fail "host driver hailo_pci $drv, image HailoRT $lib: they must be the same version." \
    "Rebuild the image with hailort-$drv-cp311-*.whl in vendor/, or install hailort-drivers v$lib on the host."
  echo "edgenas: Hailo device $dev, driver $drv = HailoRT $lib" >&2
}

for name in ${EDGENAS_REQUIRE:-}; do
  case "$name" in ''|[0-9]*|*[!A-Za-z0-9_]*) fail "EDGENAS_REQUIRE: '$name' is not a variable name." ;; esac
  eval "value=\${$name:-}"
  # shellcheck disable=SC2154  # value is set by eval
  [ -n "$value" ] || fail "$name is not set: set it in the environment (e.g. $name=... docker compose up runtime);" \
    "docs/containers.md lists the settings."
done

case "$mode" in
  off) ;;
  auto) if [ -e "$dev" ]; then check_hailo; fi ;;
  require) check_hailo ;;
  *) fail "EDGENAS_HAILO_CHECK=$mode: use auto, require or off." ;;
esac
exec edgenas "$@"
