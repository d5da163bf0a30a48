#!/usr/bin/env bash
# A long-lived throwaway PostgreSQL server for development, to pass to `convoy integration --postgres URL`
# (convoy starts and removes one by itself when no URL is given; this one survives between runs).
#
#   scripts/postgres.sh start [DIR]   initdb DIR (default .convoy/postgres) if needed, start on a free
#                                     127.0.0.1 port, print the URL
#   scripts/postgres.sh url   [DIR]   print the URL of the running server
#   scripts/postgres.sh stop  [DIR]   fast shutdown (pg_ctl stop -m fast)
#   scripts/postgres.sh rm    [DIR]   stop and remove DIR
#
# Uses Debian's packages (apt-get install -y postgresql) or initdb/pg_ctl on PATH. As root, the server
# runs as the postgres user. Authentication is trust, on 127.0.0.1 and a Unix socket in DIR only.
set -euo pipefail

cmd=${1:-}
dir=$(realpath -m "${2:-.convoy/postgres}")

bindir() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(realpath "$(command -v initdb)")"; return
  fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  echo "postgres.sh: PostgreSQL not found: apt-get install -y postgresql (or pass convoy --postgres URL)" >&2
  exit 1
}

as_owner() { # run a command as the user owning the cluster (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"; }

case "$cmd" in
  start)
    bin=$(bindir)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then url; exit 0; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" > "$dir/port"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -s start \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off"
    url
    ;;
  url)  url ;;
  stop) as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -s stop ;;
  rm)
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -s stop 2>/dev/null || true
    rm -rf "$dir"
    ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
