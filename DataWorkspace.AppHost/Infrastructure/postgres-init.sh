#!/usr/bin/env bash
# Creates the local PostgreSQL cluster on first run; later runs find it and leave it alone.
# Usage: postgres-init.sh DATA_DIR BIN_DIR   (password in $POSTGRES_PASSWORD)
set -euo pipefail
data="$1"; bin="$2"

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

if [ -f "$data/PG_VERSION" ]; then
  echo "PostgreSQL cluster found in $data (version $(cat "$data/PG_VERSION")); keeping its data."
  exit 0
fi

if [ -z "${POSTGRES_PASSWORD:-}" ]; then echo "POSTGRES_PASSWORD is not set" >&2; exit 2; fi
echo "Creating a PostgreSQL cluster in $data ..."
mkdir -p "$data"
chmod 700 "$data"
pwfile="$(mktemp)"
trap 'rm -f "$pwfile"' EXIT
printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data" "$pwfile"; fi
run_as_postgres "$bin/initdb" -D "$data" -U postgres --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
  --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 --no-sync
echo "PostgreSQL cluster created."
