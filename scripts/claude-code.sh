#!/usr/bin/env bash
# Installs what the Claude Code conformance suite (internal/conformance) runs:
# a pinned @anthropic-ai/claude-code from npm, cached per version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/claude-code-<version> and reused
# when present, and the Node SDK clients of internal/conformance/node
# (npm ci, from its lockfile). Then prints on stdout the lines that switch
# the suite on; everything else goes to stderr:
#
#   eval "$(./scripts/claude-code.sh)" && go test ./internal/conformance/
#
# TOLLGATE_CLAUDE_CODE_VERSION picks the Claude Code version: default the one
# the README says the suite passed with; "latest" asks npm for the newest.
# The spend-header tests need Claude Code 2.1.225 or later, which reads the
# anthropic-ratelimit-unified-* headers: a second pinned version is installed
# for them the same way (TOLLGATE_TEST_CLAUDE_SPEND), the newest one too when
# TOLLGATE_CLAUDE_CODE_VERSION=latest.
# Needs Node 20+ and npm, and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly pinned=2.1.197
readonly spend_pinned=2.1.332
readonly pkg=@anthropic-ai/claude-code

log() { printf 'claude-code.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v node >/dev/null || die "node is not installed (Node 20 or newer is needed)"
command -v npm >/dev/null || die "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node $(node --version) is too old; Node 20 or newer is needed"

# install VERSION: installs @anthropic-ai/claude-code@VERSION ("latest" for
# the newest) into the cache unless it is there and works; sets bin to its
# claude.exe.
install() {
  version=$1
  if [ "$version" = latest ]; then
    # Resolve first, so the cache directory names a real version.
    version=$(npm view "$pkg" version)
    log "latest $pkg is $version"
  fi
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "not a version: $version"

  cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/tollgate
  dir=$cache_root/claude-code-$version
  bin=$dir/node_modules/$pkg/bin/claude.exe

  # works DIR: the CLI installed in DIR runs and reports the wanted version. It
  # runs in a throwaway HOME, so checking leaves nothing behind.
  works() {
    local home
    home=$(mktemp -d)
    reported=$(HOME=$home "$1/node_modules/$pkg/bin/claude.exe" --version 2>&1) || true
    rm -rf "$home"
    [[ $reported == "$version "* ]]
  }

  if works "$dir"; then
    log "using $pkg@$version from $dir"
  else
    log "installing $pkg@$version into $dir"
    mkdir -p "$cache_root"
    # Install into a fresh directory and move it into place only once it
    # works, so an interrupted install is never mistaken for a cached one.
    tmp=$(mktemp -d "$cache_root/.claude-code-$version.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    printf '{"name":"tollgate-claude-code","private":true}\n' >"$tmp/package.json"
    (cd "$tmp" && npm install --no-audit --no-fund --save-exact "$pkg@$version" >&2)
    # The package's bin/claude.exe is a placeholder until its postinstall
    # script links the native binary of the platform package over it. npm may
    # skip install scripts (npm 11 warns "install scripts not yet covered by
    # allowScripts"); then run the script ourselves.
    if ! works "$tmp"; then
      log "the native binary is not in place after npm install; running the package's install.cjs"
      (cd "$tmp/node_modules/$pkg" && node install.cjs >&2) || true
    fi
    works "$tmp" || die "$pkg@$version installed, but claude --version reports: $reported"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
  fi
  log "claude --version: $reported"
}

install "${TOLLGATE_CLAUDE_CODE_VERSION:-$pinned}"
main_bin=$bin
if [ "${TOLLGATE_CLAUDE_CODE_VERSION:-}" = latest ]; then
  spend_bin=$bin
else
  install "$spend_pinned"
  spend_bin=$bin
fi

# npm ci starts from scratch each time; skip it while node_modules was made
# from the same lockfile.
node_dir=internal/conformance/node
lock_sum=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
stamp=$node_dir/node_modules/.tollgate-lock.sha256
if [ "$(cat "$stamp" 2>/dev/null)" = "$lock_sum" ]; then
  log "Node SDK clients already installed from this lockfile ($node_dir/node_modules)"
else
  log "installing the Node SDK clients ($node_dir: npm ci)"
  (cd "$node_dir" && npm ci --no-audit --no-fund >&2)
  echo "$lock_sum" >"$stamp"
fi

printf 'export TOLLGATE_TEST_CLAUDE=%q\n' "$main_bin"
printf 'export TOLLGATE_TEST_CLAUDE_SPEND=%q\n' "$spend_bin"
printf 'export TOLLGATE_TEST_NODE_DIR=%q\n' "$PWD/$node_dir"
