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

# the supply chain: every locked package against PyPI's vulnerability data (pip-audit). A known
# vulnerability fails the run. When the data cannot be had (no network, or an index without PyPI's
# per-release JSON API), every package would be skipped and the audit would "pass" having checked
# nothing, so --strict turns that into an error, and the run says NOT AUDITED in words; it then
# fails only where LIUHEN_REQUIRE_AUDIT=1 (set it in a CI that reaches PyPI).
if [ $# -eq 0 ]; then
  echo "pip-audit of requirements.lock and requirements-test.lock ..."
  audit_out=$(mktemp)
  if .venv/bin/pip-audit --strict --disable-pip --require-hashes --progress-spinner off \
       -r requirements.lock -r requirements-test.lock >"$audit_out" 2>&1; then
    cat "$audit_out"
  elif grep -qE "^Found [0-9]+ known vulnerabilit|^Name +Version +ID" "$audit_out"; then
    cat "$audit_out"
    echo "pip-audit found known vulnerabilities in the locked packages: upgrade them (pip-compile --upgrade-package NAME ...) and run again." >&2
    exit 1
  else
    tail -n 3 "$audit_out" >&2
    echo "NOT AUDITED: pip-audit could not get PyPI's vulnerability data for the locked packages (above)." >&2
    if [ "${LIUHEN_REQUIRE_AUDIT:-}" = "1" ]; then
      echo "LIUHEN_REQUIRE_AUDIT=1: failing the run." >&2
      exit 1
    fi
    echo "Continuing without the audit; run it where PyPI answers, or set LIUHEN_REQUIRE_AUDIT=1 to make this fatal." >&2
  fi
  rm -f "$audit_out"
fi

# one pytest worker per core (pytest-xdist), a test file staying on one worker (its module fixtures
# are built once); LIUHEN_TEST_WORKERS=1 runs in one process. The slowest tests are listed at the end.
workers="${LIUHEN_TEST_WORKERS:-$(nproc)}"
par=()
if [ "$workers" -gt 1 ]; then par=(-n "$workers" --dist loadfile); fi
exec .venv/bin/python -m pytest -p no:cacheprovider "${par[@]}" --durations=30 "$@"
