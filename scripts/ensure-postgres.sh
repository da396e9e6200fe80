#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) exist; the test fixtures start the server.
# With CI=true a missing server is installed from the system packages (and a failure is fatal).
set -euo pipefail
if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server not found: installing it from the system packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL server not found and cannot be installed (need root and apt-get)" >&2
  exit 1
fi
echo "PostgreSQL server not found: its test cases will be skipped locally (CI runs them)"
