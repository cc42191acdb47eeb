#!/usr/bin/env bash
# Build a local Debian bookworm + Python 3.11 base image without pulling from a registry.
#
# For machines that cannot reach a container registry (CI here, air-gapped labs): debootstrap a
# minimal bookworm root file system from the apt mirror the machine already uses, add an extra CA
# bundle (an HTTPS-intercepting proxy), and `docker import` it. The edgenas Dockerfiles then build
# FROM it with `--build-arg BASE_IMAGE=<tag>`. With registry access, use the default
# python:3.11-slim-bookworm instead and skip this script.
#
# Usage: docker/make-base-image.sh [--tag NAME:TAG] [--mirror URL] [--ca-bundle FILE] [--force]
#   --tag        image to create (default: edgenas-base:bookworm-py311). If it exists already the
#                script does nothing (cached by tag) unless --force is given.
#   --mirror     Debian mirror (default: the first bookworm URI in /etc/apt/sources*, else deb.debian.org)
#   --ca-bundle  PEM file appended to the image's CA bundle (default: $PIP_CERT when set); the image gets
#                PIP_CERT, SSL_CERT_FILE and REQUESTS_CA_BUNDLE pointing at the combined bundle.
# Needs root, debootstrap (apt-get install -y debootstrap) and a running Docker engine. About a minute.
set -euo pipefail

tag="edgenas-base:bookworm-py311"
mirror=""
ca_bundle="${PIP_CERT:-}"
force=0
packages="python3,python3-venv,python3-pip,ca-certificates"

die() { echo "make-base-image: error: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a value}"; shift 2 ;;
    --ca-bundle) ca_bundle="${2?--ca-bundle needs a value (empty for none)}"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

command -v docker >/dev/null || die "docker CLI not found: install a Docker engine (apt-get install -y docker.io)."
docker info >/dev/null 2>&1 || die "no Docker engine answers: start one (dockerd > /tmp/dockerd.log 2>&1 &) and retry."
if [[ $force -eq 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "make-base-image: $tag exists (use --force to rebuild)" >&2
  exit 0
fi
[[ $(id -u) -eq 0 ]] || die "debootstrap needs root: run with sudo."
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap."
[[ -z "$ca_bundle" || -r "$ca_bundle" ]] || die "CA bundle '$ca_bundle' is not readable: pass --ca-bundle FILE or --ca-bundle ''."

if [[ -z "$mirror" ]]; then
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 \
           | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//' | awk '{print $1}' || true)
  mirror="${mirror:-http://deb.debian.org/debian}"
fi

rootfs=$(mktemp -d /tmp/edgenas-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "make-base-image: debootstrap bookworm from $mirror into $rootfs" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >&2

if [[ -n "$ca_bundle" ]]; then
  install -D -m 0644 "$ca_bundle" "$rootfs/usr/local/share/ca-certificates/edgenas-extra-ca.crt"
  cat "$ca_bundle" >> "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
# Keep the image small and free of host state.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.cache
echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/99edgenas-no-recommends"

certs=/etc/ssl/certs/ca-certificates.crt
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change "ENV PIP_CERT=$certs SSL_CERT_FILE=$certs REQUESTS_CA_BUNDLE=$certs LANG=C.UTF-8" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian bookworm + python3 (debootstrap from $mirror)\"" \
  - "$tag" >&2
echo "make-base-image: built $tag" >&2
echo "$tag"
