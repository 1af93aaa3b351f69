#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and local runs, from the Debian packages.
#
#   scripts/postgres.sh start    # init (first time) + start on a free loopback port; prints the URL
#   scripts/postgres.sh url      # prints the SQLAlchemy URL of the running cluster (exit 1 if stopped)
#   scripts/postgres.sh status   # exit 0 if running
#   scripts/postgres.sh stop     # stop it (data kept)
#   scripts/postgres.sh purge    # stop it and delete its folder
#
# State lives in $WAREHOUSE_PG_DIR (default: <repo>/var/postgres; a temp folder when the
# postgres user cannot reach the repo). PostgreSQL refuses to run as root, so under root the
# server runs as the `postgres` user (created if missing). Needs: apt-get install postgresql.
# Auth: scram-sha-256 with a random password on 127.0.0.1 only; the URL carries it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB_NAME="${WAREHOUSE_PG_DB:-warehouse}"
DB_USER="${WAREHOUSE_PG_USER:-warehouse}"

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bindir() {
  if [[ -n "${WAREHOUSE_PG_BINDIR:-}" ]]; then echo "$WAREHOUSE_PG_BINDIR"; return; fi
  local d best=""
  # newest Debian-packaged major version first
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -n); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && best="$d"
  done
  if [[ -z "$best" ]] && command -v pg_ctl >/dev/null 2>&1; then
    best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
  [[ -n "$best" ]] || die "no PostgreSQL server binaries (initdb, pg_ctl) found under /usr/lib/postgresql/*/bin; install them: apt-get install -y postgresql"
  echo "$best"
}

# Who runs the server: ourselves, or (as root) an unprivileged user.
RUN_USER=""
if [[ "$(id -u)" == "0" ]]; then
  RUN_USER="${WAREHOUSE_PG_OS_USER:-postgres}"
fi

as_server_user() {
  if [[ -n "$RUN_USER" ]]; then
    # from /, which the server user can always enter (the caller's folder may be private)
    (cd / && runuser -u "$RUN_USER" -- "$@")
  else
    "$@"
  fi
}

ensure_run_user() {
  [[ -z "$RUN_USER" ]] && return
  if ! id "$RUN_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER" \
      || die "cannot create user $RUN_USER to run PostgreSQL (it refuses root); set WAREHOUSE_PG_OS_USER to an existing user"
  fi
}

state_dir() {
  if [[ -n "${WAREHOUSE_PG_DIR:-}" ]]; then echo "$WAREHOUSE_PG_DIR"; return; fi
  local preferred="$REPO/var/postgres"
  if [[ -f "$preferred/url" || -z "$RUN_USER" ]]; then echo "$preferred"; return; fi
  # as root: the server user must be able to traverse every parent folder of its data dir
  mkdir -p "$REPO/var"
  if runuser -u "$RUN_USER" -- test -x "$REPO/var" 2>/dev/null; then
    echo "$preferred"
  else
    echo "${TMPDIR:-/tmp}/warehouse-postgres-$(echo "$REPO" | cksum | cut -d' ' -f1)"
  fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free loopback port found"
}

DIR="$(state_dir)"
DATA="$DIR/data"
SOCK="$DIR/run"
LOG="$DIR/postgres.log"

is_running() {
  [[ -f "$DATA/postmaster.pid" ]] || return 1
  as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

print_url() {
  [[ -f "$DIR/url" ]] || die "no cluster in $DIR; run: scripts/postgres.sh start"
  cat "$DIR/url"
}

init_cluster() {
  ensure_run_user
  mkdir -p "$DIR" "$SOCK"
  chmod 700 "$DIR"
  local pw; pw="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  umask 077
  printf '%s\n' "$pw" > "$DIR/pwfile"
  [[ -n "$RUN_USER" ]] && chown -R "$RUN_USER" "$DIR"
  as_server_user "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$DIR/pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || as_server_user "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$DIR/pwfile" \
         --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; die "initdb failed (log above, in $DIR/initdb.log)"; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$SOCK'"
    echo "fsync = off"                # throwaway test cluster: durability is not the point
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "max_connections = 200"
  } >>"$DATA/postgresql.conf"
}

start() {
  if [[ ! -f "$DATA/PG_VERSION" ]]; then init_cluster; fi
  if is_running; then print_url; return; fi
  local port; port="$(free_port)"
  [[ -n "$RUN_USER" ]] && chown -R "$RUN_USER" "$DIR"
  as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $port" -w -t 60 start >/dev/null \
    || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed (log above, in $LOG)"; }
  local pw; pw="$(cat "$DIR/pwfile")"
  if ! PGPASSWORD="$pw" "$BIN/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    PGPASSWORD="$pw" "$BIN/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" \
      || die "createdb $DB_NAME failed; see $LOG"
  fi
  echo "postgresql+psycopg://$DB_USER:$pw@127.0.0.1:$port/$DB_NAME" > "$DIR/url"
  [[ -n "$RUN_USER" ]] && chown "$RUN_USER" "$DIR/url"
  print_url
}

stop() {
  if is_running; then
    as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  rm -f "$DIR/url"
}

cmd="${1:-}"
case "$cmd" in
  start) BIN="$(find_bindir)"; start ;;
  stop) BIN="$(find_bindir)"; stop ;;
  purge) BIN="$(find_bindir)"; stop; rm -rf "$DIR" ;;
  url) BIN="$(find_bindir)"; is_running || die "not running; run: scripts/postgres.sh start"; print_url ;;
  status) BIN="$(find_bindir)"; is_running && { echo "running: $(print_url | sed 's#://\([^:]*\):[^@]*@#://\1:***@#')"; exit 0; } || { echo "stopped"; exit 1; } ;;
  *) echo "usage: $0 start|stop|url|status|purge" >&2; exit 2 ;;
esac
