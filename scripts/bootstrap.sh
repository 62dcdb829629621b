#!/usr/bin/env bash
# Install what liuhen needs on a fresh machine: ffmpeg and openssl (Debian packages), and a Python
# virtual environment with liuhen, every package pinned and hash-checked from a lock file:
#   scripts/bootstrap.sh            .venv     from requirements-test.lock: liuhen and its test tools
#   scripts/bootstrap.sh --runtime  .venv-run from requirements.lock: liuhen only (what `make serve`
#                                   and `make demo` run; no moto, Flask, schemathesis or playwright)
# The locks are made by pip-compile --generate-hashes (see the README's "Supply chain"); pip refuses
# any file whose hash is not in them. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=0
if [ "${1:-}" = "--runtime" ]; then runtime=1; fi

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# the console's browser tests drive Debian's Chromium (no browser download); CJK fonts for the pages
if [ $runtime -eq 0 ]; then command -v chromium >/dev/null 2>&1 || missing+=(chromium); fi
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)  # (also the opinion PDF's font)
# the tests read the text of generated PDFs back with pdftotext
if [ $runtime -eq 0 ]; then command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} (Debian packages) ..."
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "liuhen needs Python 3.11 or newer; $py is $("$py" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ $runtime -eq 1 ]; then venv=.venv-run lock=requirements.lock; else venv=.venv lock=requirements-test.lock; fi
if [ ! -x $venv/bin/python ]; then
  "$py" -m venv $venv
fi
stamp=$venv/.liuhen-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ $lock -nt "$stamp" ]; then
  # every package (pip and setuptools too) at the locked version, each file checked against its hash
  $venv/bin/python -m pip install -q --require-hashes -r $lock
  # liuhen itself, built with the locked setuptools (no unpinned build environment), its dependencies
  # already there; the test venv gets it editable, the runtime venv as an installed copy
  if [ $runtime -eq 1 ]; then
    $venv/bin/python -m pip install -q --no-deps --no-build-isolation .
  else
    $venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  fi
  touch "$stamp"
fi
