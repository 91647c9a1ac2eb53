#!/usr/bin/env bash
# Runs the local PostgreSQL server in the foreground; a stop from the AppHost becomes a fast shutdown.
# Usage: postgres-run.sh DATA_DIR BIN_DIR   (port in $PGPORT)
# PostgreSQL logs to stderr; it goes to stdout so the dashboard shows it as ordinary output, not errors.
set -euo pipefail
data="$1"; bin="$2"

if [ -f "$data/postmaster.pid" ]; then
  pid="$(head -n 1 "$data/postmaster.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    echo "A PostgreSQL server (pid $pid) is already running on $data, perhaps from an AppHost that did not stop cleanly. Stop it (kill -INT $pid) and start again." >&2
    exit 1
  fi
fi

# Every user who runs queries has a login with a pool of its own: room for a few hundred of them besides the services.
args=(-D "$data" -k "$data" -c listen_addresses=127.0.0.1 -p "$PGPORT" -c max_connections=500)
if [ "$(id -u)" = 0 ]; then
  setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" "${args[@]}" 2>&1 &
else
  "$bin/postgres" "${args[@]}" 2>&1 &
fi
server=$!
trap 'kill -INT "$server" 2>/dev/null' TERM INT
wait "$server" || true
wait "$server" 2>/dev/null || true
