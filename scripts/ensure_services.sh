#!/usr/bin/env bash
# Make sure PostgreSQL (with pgvector) and Redis run on loopback. Idempotent: every step is
# skipped when what it provides is already there, so `make run` and `make test` may call it
# on every invocation. Needs root (or sudo) only for the steps that install something.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

log() { echo "[services] $*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }

# --- PostgreSQL ----------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_ready; then
  log "PostgreSQL is not installed: installing it with apt"
  apt_install postgresql postgresql-contrib
fi
if ! pg_ready; then
  log "starting PostgreSQL"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
fi
pg_ready || { log "PostgreSQL does not answer on $PGHOST:$PGPORT"; exit 1; }

psql_q() { psql -X -q -t -A -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres "$@"; }

# --- pgvector ------------------------------------------------------------------------------
# Debian 12 ships no pgvector package; build it once from Debian's own source package (trixie
# has 0.8.0). Probe in a throw-away database so no schema is touched.
vector_works() {
  psql_q -c "DROP DATABASE IF EXISTS _vector_probe" >/dev/null 2>&1
  psql_q -c "CREATE DATABASE _vector_probe" >/dev/null 2>&1 || return 1
  local ok=0
  psql -X -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d _vector_probe \
    -c "CREATE EXTENSION vector" >/dev/null 2>&1 || ok=1
  psql_q -c "DROP DATABASE IF EXISTS _vector_probe" >/dev/null 2>&1
  return $ok
}
if ! vector_works; then
  major=$(psql_q -c "SHOW server_version_num" | cut -c1-2)
  log "building pgvector for PostgreSQL $major from Debian's source package"
  list=/etc/apt/sources.list.d/voiceagents-pgvector-src.list
  if [ ! -f "$list" ]; then
    echo "deb-src http://deb.debian.org/debian trixie main" | $SUDO tee "$list" >/dev/null
  fi
  apt_updated=0
  apt_install "postgresql-server-dev-$major" build-essential dpkg-dev
  build=$(mktemp -d)
  (cd "$build" && apt-get source -qq pgvector >/dev/null 2>&1)
  src=$(find "$build" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  [ -n "$src" ] || { log "apt-get source pgvector found nothing"; exit 1; }
  make -s -C "$src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" >/dev/null
  $SUDO make -s -C "$src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" install >/dev/null
  rm -rf "$build"
  vector_works || { log "pgvector built but CREATE EXTENSION vector still fails"; exit 1; }
  log "pgvector installed"
fi

# --- Redis ---------------------------------------------------------------------------------
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-server >/dev/null 2>&1 && ! redis_ready; then
  log "Redis is not installed: installing it with apt"
  apt_install redis-server
fi
if ! redis_ready; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
fi
redis_ready || { log "Redis does not answer on 127.0.0.1:6379"; exit 1; }
log "PostgreSQL (with pgvector) and Redis are ready"
