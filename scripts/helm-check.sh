#!/usr/bin/env bash
# Validates the Helm chart deploy/helm/tollgate: `helm lint` and
# `helm template` with the default values and with non-default ones
# (scripts/helm-values-ci.yaml), failing on any error, and `tollgate check`
# on the config file each rendering puts in its ConfigMap. helm is not a Debian
# package: when `helm` is not on PATH, it is built from the Go module proxy
# (a few minutes, once per machine) into a cache directory and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM_VERSION=v3.22.0
CHART=deploy/helm/tollgate

log() { printf 'helm-check: %s\n' "$*" >&2; }

helm=$(command -v helm || true)
if [ -z "$helm" ]; then
  bin="${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/helm-$HELM_VERSION"
  helm="$bin/helm"
  if [ ! -x "$helm" ]; then
    log "building helm $HELM_VERSION from the Go module proxy into $bin"
    mkdir -p "$bin"
    GOBIN="$bin" CGO_ENABLED=0 go install -trimpath "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  fi
fi
"$helm" version --short >&2

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$helm" lint --strict "$CHART"
"$helm" lint --strict "$CHART" -f scripts/helm-values-ci.yaml
"$helm" template tollgate "$CHART" >"$out/default.yaml"
"$helm" template tollgate "$CHART" -f scripts/helm-values-ci.yaml --namespace gw >"$out/ci.yaml"

# What the templates must have produced.
need() { # file kind
  grep -q "^kind: $2\$" "$1" || { log "$1: no $2 rendered"; exit 1; }
}
for k in Deployment Service ServiceAccount ConfigMap PodDisruptionBudget HorizontalPodAutoscaler; do
  need "$out/default.yaml" "$k"
done
need "$out/ci.yaml" ServiceMonitor
# The config file each rendering puts in its ConfigMap must be one the
# gateway accepts, --strict with the variables the pods get from Secrets.
for v in default ci; do
  awk '/^  tollgate.yaml: \|/{on=1; next} on && /^[^ ]/{on=0} on{sub(/^    /, ""); print}' \
    "$out/$v.yaml" >"$out/$v-tollgate.yaml"
  [ -s "$out/$v-tollgate.yaml" ] || { log "$v values: no tollgate.yaml in the ConfigMap"; exit 1; }
  TOLLGATE_DATABASE_URL=postgres://tollgate@db.invalid:5432/tollgate ANTHROPIC_API_KEY=ci AWS_REGION=us-east-1 \
    go run ./cmd/tollgate check --strict --config "$out/$v-tollgate.yaml" >&2
done
log "$CHART lints and renders"
