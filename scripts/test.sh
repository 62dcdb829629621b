#!/usr/bin/env bash
# Run the whole test suite against real parts: SQLite and PostgreSQL, real ffmpeg media, an
# S3-compatible server process on loopback. In CI (CI=true) PostgreSQL is required.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

pg_up() { .venv/bin/python - <<'PY'
import os, sys, psycopg
try:
    psycopg.connect(os.environ.get("LIUHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"), connect_timeout=3).close()
except Exception:
    sys.exit(1)
PY
}
if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; starting the local cluster ..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  sleep 2
fi
if [ "${CI:-}" = "true" ]; then export LIUHEN_REQUIRE_PG=1; fi

# the code's own checks first (they take seconds): lint, types, the package layers
if [ $# -eq 0 ]; then
  echo "ruff, mypy --strict and the package layers (import-linter) ..."
  .venv/bin/ruff check --quiet .
  .venv/bin/mypy --no-error-summary
  .venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
fi

exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
