#!/usr/bin/env bash
# Validates deploy/compose/docker-compose.yml with `docker compose config`.
# The Docker client is on the machine but its compose plugin may not be, and
# no Docker engine is needed to validate: when `docker compose` is missing,
# the plugin is built from the Go module proxy (a few minutes, once per
# machine) into ~/.docker/cli-plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
COMPOSE_VERSION=v2.40.3

log() { printf 'compose-check: %s\n' "$*" >&2; }

if ! command -v docker >/dev/null 2>&1; then
  log "installing the Debian docker.io client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 && apt-get install -y --no-install-recommends docker.io >&2
fi
if ! docker compose version >/dev/null 2>&1; then
  log "building the docker compose plugin $COMPOSE_VERSION from the Go module proxy"
  dir=$(mktemp -d)
  GOBIN="$dir" go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
  mkdir -p "$HOME/.docker/cli-plugins"
  mv "$dir/cmd" "$HOME/.docker/cli-plugins/docker-compose"
  rm -rf "$dir"
fi
# config needs the variables the file requires; the example env file has them.
docker compose --env-file deploy/compose/env.example -f deploy/compose/docker-compose.yml config --quiet
log "deploy/compose/docker-compose.yml is valid"
