#!/usr/bin/env bash
# Set up everything from scratch (venv, packages, services) and run the whole suite: ruff, mypy, pytest.
# Services: a private Redis is started (and stopped at exit); PostgreSQL is used at P2P_TEST_DATABASE_URL
# (default postgresql://postgres@127.0.0.1:5432/test), started or installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. "${P2P_VENV:-.venv}/bin/activate"

bash scripts/postgres.sh
export P2P_TEST_DATABASE_URL="${P2P_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
