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
  # `go install module@version` refuses compose's go.mod (it has exclude
  # directives), so build inside the downloaded module, as its main module.
  src=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { log "could not download github.com/docker/compose/v2@$COMPOSE_VERSION"; exit 1; }
  mkdir -p "$HOME/.docker/cli-plugins"
  (cd "$src" && go build -trimpath -o "$HOME/.docker/cli-plugins/docker-compose" ./cmd)
fi
# config needs the variables the file requires; the example env file has them.
compose=(docker compose --env-file deploy/compose/env.example -f deploy/compose/docker-compose.yml)
"${compose[@]}" config --quiet
# The replicas profile: three gateways behind the nginx load balancer.
"${compose[@]}" --profile replicas config --quiet
services=$("${compose[@]}" --profile replicas config --services | sort | tr '\n' ' ')
for s in tollgate tollgate-2 tollgate-3 lb; do
  case " $services" in *" $s "*) ;; *) log "replicas profile: no service $s (have: $services)"; exit 1 ;; esac
done
# Without the profile, only the single gateway.
case " $("${compose[@]}" config --services | tr '\n' ' ')" in
  *" lb "*|*" tollgate-2 "*) log "the replicas profile's services run without --profile replicas"; exit 1 ;;
esac
# Every upstream of the load balancer is a gateway service of the profile.
for u in $(sed -n 's/^ *server \([a-z0-9-]*\):4000.*/\1/p' deploy/compose/nginx-replicas.conf); do
  case " $services" in *" $u "*) ;; *) log "nginx-replicas.conf: upstream $u is no compose service"; exit 1 ;; esac
done
log "deploy/compose/docker-compose.yml is valid, with and without the replicas profile"
