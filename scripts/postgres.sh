#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `scripts/postgres.sh start DIR` runs
# initdb and pg_ctl as the postgres user in DIR on a free loopback port and
# prints an admin URL; `scripts/postgres.sh restart DIR` restarts it on the
# same port (a fast shutdown: sessions are cut); `scripts/postgres.sh stop
# DIR` stops it.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local candidate
  candidate=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$candidate" ]; then echo "$candidate"; return; fi
  echo "PostgreSQL's $name is missing (apt-get install postgresql)" >&2
  exit 1
}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; return; fi
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; return; fi
  "$@"
}

case "${1:-}" in
  start)
    dir=$2
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$(find_bin initdb)" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    as_postgres "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  restart)
    dir=$2
    as_postgres "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w restart >/dev/null
    ;;
  stop)
    dir=$2
    [ -d "$dir/data" ] && as_postgres "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/postgres.sh start DIR | restart DIR | stop DIR" >&2
    exit 2
    ;;
esac
