#!/usr/bin/env bash
# Installs Chromium for the web console's browser tests (internal/ui) and
# prints the line that points the tests at it:
#
#   eval "$(scripts/chromium.sh)"    # sets TOLLGATE_TEST_CHROMIUM
#   go test ./internal/ui/
#
# On a fresh Debian machine, as root, installs the Debian `chromium` package
# when it is missing. Safe to re-run. Only the export line goes to stdout;
# progress goes to stderr.
set -euo pipefail

bin="${TOLLGATE_TEST_CHROMIUM:-}"
if [ -z "$bin" ]; then
  bin=$(command -v chromium || command -v chromium-browser || true)
fi
if [ -z "$bin" ]; then
  echo "installing the Debian chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends chromium >&2
  bin=$(command -v chromium)
fi
# A Japanese font, so the Japanese pages render real glyphs (their width is
# what the overflow test measures, and what the screenshots show).
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=ja 2>/dev/null)" ]; then
  echo "installing a Japanese font (fonts-ipafont-gothic)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends fonts-ipafont-gothic >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends fonts-ipafont-gothic >&2; }
fi
"$bin" --version >&2 2>/dev/null || true
echo "export TOLLGATE_TEST_CHROMIUM=$bin"
