#!/usr/bin/env bash
# Time from `git clone` to "Data Workspace is ready" with empty NuGet and npm caches (cold) and with the caches it
# filled (warm): first as a newcomer runs it (`./dw run`), then phase by phase (restore, front-end install and build, compile,
# start) in a second clone, so the time can be placed. Each clone is of this repository's HEAD, in a temporary folder,
# with a fresh data directory. The prerequisites must be present (./dw check). Run it on an otherwise idle machine.
set -euo pipefail
repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
work="$(mktemp -d /tmp/dw-fresh-clone.XXXXXX)"
chmod 755 "$work" # run as root, PostgreSQL runs as the postgres user and must reach its data folder
# Cold means no package of any kind on the machine: NuGet's packages and HTTP cache, and npm's cache.
export NUGET_PACKAGES="$work/nuget" NUGET_HTTP_CACHE_PATH="$work/nuget-http" npm_config_cache="$work/npm"
logs="${DW_BENCH_LOGS:-/tmp/dw-fresh-clone-logs}"
mkdir -p "$logs"
trap 'pkill -f "$work/" 2>/dev/null || true; cp "$work"/*.log "$logs"/ 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { printf '%5.1f' "$(echo "$(now) - $1" | bc)"; }
stamp() { python3 -u -c 'import sys, time
start = float(sys.argv[1])
for line in sys.stdin: sys.stdout.write(f"{time.time() - start:6.1f} {line}")' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Runs "$@" in a session of its own until the log says the platform is ready, then stops the whole session as a service
# manager would (SIGTERM: the AppHost stops its resources; a background job ignores SIGINT), and anything left after 30 s.
until_ready() {
  local log="$1" pid; shift
  # Each line of the run's output is kept with the seconds since its start, so the steps inside it can be placed.
  setsid "$@" > >(stamp "$(now)" > "$log") 2>&1 &
  pid=$!
  until grep -qs "Data Workspace is ready at" "$log"; do
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || { echo "the run stopped before it was ready:"; tail -20 "$log"; exit 1; }
  done
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  pkill -f "$work/" 2>/dev/null || true
  sleep 1
}

measure() {
  local label="$1" clone="$work/$1" t total
  # As a newcomer runs it.
  total=$(now)
  git clone -q "$repo" "$clone-dw"
  (cd "$clone-dw" && until_ready "$work/$label-dw.log" ./dw run --DataDirectory="$work/$label-dw-data" --Portal:Port="$(free_port)")
  printf '%-4s ./dw run: %s s from git clone to ready\n' "$label" "$(since "$total")"
  [ "$label" = cold ] && rm -rf "$NUGET_PACKAGES" "$NUGET_HTTP_CACHE_PATH" "$npm_config_cache"

  # Phase by phase, in a second clone (the cold run empties the NuGet cache again first).
  cd "$work"
  t=$(now); git clone -q "$repo" "$clone"; local clone_s; clone_s=$(since "$t")
  cd "$clone"
  t=$(now); dotnet restore DataWorkspace.AppHost -v q >/dev/null; local restore_s; restore_s=$(since "$t")
  t=$(now); (cd DataWorkspace.Web && npm ci --no-audit --no-fund --loglevel=error >/dev/null); local npm_s; npm_s=$(since "$t")
  t=$(now); (cd DataWorkspace.Web && npm run --silent build >/dev/null); local frontend_s; frontend_s=$(since "$t")
  t=$(now); dotnet build DataWorkspace.AppHost --no-restore -v q >/dev/null; local build_s; build_s=$(since "$t")
  t=$(now); until_ready "$work/$label-phases.log" dotnet run --project DataWorkspace.AppHost --no-build -- --DataDirectory="$work/$label-data" --Portal:Port="$(free_port)"
  local start_s; start_s=$(since "$t")
  printf '%-4s phases: clone %s | NuGet restore %s | npm ci %s | front-end build %s | compile %s | start to ready %s (s)\n' \
    "$label" "$clone_s" "$restore_s" "$npm_s" "$frontend_s" "$build_s" "$start_s"
  cd "$work"
}

measure cold
measure warm
