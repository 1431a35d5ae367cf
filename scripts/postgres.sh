#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for Tollgate's store conformance suite and
# prints the line that points the tests at it:
#
#   eval "$(scripts/postgres.sh)"    # sets TOLLGATE_TEST_POSTGRES_URL
#   go test ./internal/store/ ./internal/admin/
#
# Works as root on a fresh Debian 12 machine without Docker: installs the
# Debian `postgresql` package when it is missing, then runs a private cluster
# (its own data directory, port and socket directory, listening on 127.0.0.1
# only) as the `postgres` user, so it neither needs nor disturbs the
# distribution's default cluster. Safe to re-run: each step is skipped when it
# is already done. Only the export line goes to stdout; progress goes to stderr.
#
# Environment (all optional):
#   TOLLGATE_PG_PORT  port to listen on         (default 55432)
#   TOLLGATE_PG_DIR   cluster data and log dir  (default /var/lib/tollgate-pg)
set -euo pipefail

PORT="${TOLLGATE_PG_PORT:-55432}"
BASE="${TOLLGATE_PG_DIR:-/var/lib/tollgate-pg}"
DATA="$BASE/data"
LOGFILE="$BASE/postgres.log"
SOCKDIR=/tmp
ROLE=tollgate
# A fixed password is fine: the cluster only listens on loopback and holds
# nothing but test data.
PASSWORD=tollgate
DB=tollgate_test

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and runs the server as the postgres user)"
  exit 1
fi

pgbin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && printf '%s\n' "$d"
}

BIN=$(pgbin || true)
if [ -z "$BIN" ]; then
  log "installing the Debian postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
  BIN=$(pgbin || true)
  if [ -z "$BIN" ]; then
    log "postgresql installed but no initdb found under /usr/lib/postgresql/*/bin"
    exit 1
  fi
fi
id postgres >/dev/null 2>&1 || { log "the postgres user is missing after install"; exit 1; }

as_pg() { runuser -u postgres -- "$@"; }
psql_admin() { as_pg "$BIN/psql" -h "$SOCKDIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "creating cluster in $DATA"
  mkdir -p "$BASE"
  chown postgres:postgres "$BASE"
  chmod 700 "$BASE"
  # Local (socket) connections are for the postgres superuser only; TCP needs
  # a password.
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >&2
fi

if ! as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  log "starting server on 127.0.0.1:$PORT (log: $LOGFILE)"
  # listen_addresses is loopback only; the socket lives in /tmp so nothing
  # under /var/run/postgresql (owned by the distribution's cluster) is needed.
  # fsync is off: this is a test server and durability only costs time here.
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2
fi

for _ in $(seq 1 60); do
  as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { log "server did not become ready; see $LOGFILE"; exit 1; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
  log "creating role $ROLE"
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  log "creating database $DB"
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE"
fi

log "ready"
printf 'export TOLLGATE_TEST_POSTGRES_URL=%s\n' "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB?sslmode=disable"
