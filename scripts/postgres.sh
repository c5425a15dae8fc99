#!/usr/bin/env bash
# Make sure a PostgreSQL answers on 127.0.0.1:5432 for the tests: use the running one, else start the installed
# cluster, else (as root on Debian) install and start one. Creates the `test` database when missing.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "postgres: no PostgreSQL client tools; install the postgresql package" >&2; exit 1
  fi
fi
if ! ready; then
  version="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)"
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
fi
for _ in $(seq 1 50); do ready && break; sleep 0.2; done
ready || { echo "postgres: nothing answers on 127.0.0.1:5432" >&2; exit 1; }
if [ "$(psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres 2>/dev/null)" != 1 ]; then
  psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres >/dev/null 2>&1 \
    || su postgres -c "psql -c 'CREATE DATABASE test'" >/dev/null
fi
echo "postgres: ready on 127.0.0.1:5432"
