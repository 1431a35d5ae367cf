#!/usr/bin/env bash
# Runs Tollgate's whole test suite on a fresh Debian machine: installs and
# starts on loopback whatever the suites need (PostgreSQL), then runs every Go
# test with those suites switched on. Safe to re-run; each step is skipped
# when already done. Must run as root on a machine without PostgreSQL (it
# installs the Debian package); on a developer machine that already runs one,
# set TOLLGATE_TEST_POSTGRES_URL and this script uses it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "go vet"
go vet ./...

log "go mod tidy"
# go.mod and go.sum must be what go mod tidy makes of the imports: no
# missing or stale requirement, direct ones not marked indirect.
go mod tidy -diff

log "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

log "actionlint (example workflows)"
# The example workflow users copy, and through it the inputs of the
# tollgate-key action it calls, must be valid GitHub Actions syntax.
go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 docs/examples/github-actions/*.yml

log "docker compose config"
./scripts/compose-check.sh

log "helm lint and template (deploy/helm/tollgate)"
./scripts/helm-check.sh

log "promtool check rules"
if ! command -v promtool >/dev/null 2>&1; then
  # Debian's prometheus package ships promtool; it installs in well under a
  # minute, where building promtool from the Go module proxy takes many.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 && apt-get install -y --no-install-recommends prometheus >&2
fi
promtool check rules deploy/prometheus/alerts.yml deploy/prometheus/budgets.yml

if [ -z "${TOLLGATE_TEST_POSTGRES_URL:-}" ]; then
  log "PostgreSQL on loopback"
  pg_env=$(./scripts/postgres.sh)   # assigned first, so a failure stops the script
  eval "$pg_env"
fi
export TOLLGATE_TEST_POSTGRES_URL

log "Chromium (web console browser tests)"
if [ -z "${TOLLGATE_TEST_CHROMIUM:-}" ]; then
  chromium_env=$(./scripts/chromium.sh)   # assigned first, so a failure stops the script
  eval "$chromium_env"
fi
export TOLLGATE_TEST_CHROMIUM

log "Claude Code and the Node SDKs (conformance suite)"
cc_env=$(./scripts/claude-code.sh)   # assigned first, so a failure stops the script
eval "$cc_env"

log "go test"
# CI=true makes every suite that needs a service fail, never skip, when the
# service is missing. -race: the gateway is concurrent everywhere (streams,
# reservations, the usage writer); the race detector runs on every CI run.
# TOLLGATE_BENCH_SMOKE: the benchmark harness runs end to end at its smallest size.
CI=true TOLLGATE_BENCH_SMOKE=1 go test -race -count=1 -timeout 30m ./...
