#!/usr/bin/env bash
# The Python order and inventory services' virtualenv: Flask and psycopg (services/python/
# requirements.txt) and the Python SDK, editable, from sdks/python. Idempotent: rebuilt only when
# the pins or the SDK's pyproject.toml change, so a second run takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/../services/python"

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || {
  echo "sql-races: the Python services need Python 3.10+ with venv ($PYTHON)" >&2
  exit 1
}
VENV=.venv
STAMP="$VENV/.pins"
PINS=$(cat requirements.txt ../../../../sdks/python/pyproject.toml | sha256sum | cut -d" " -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  echo "sql-races: creating services/python/$VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    -e ../../../../sdks/python
  echo "$PINS" > "$STAMP"
fi
