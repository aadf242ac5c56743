#!/usr/bin/env bash
# The Python SDK's checks, run by `pnpm test`: set up the virtualenv (from scratch when it is
# missing or the pins changed), then ruff, mypy --strict and pytest. The wheel and the sdist are
# built and installed by the release dry run (packages/release-tests). Idempotent; a second run
# reuses the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.pins"
PINS=$(sha256sum requirements-dev.txt | cut -d" " -f1)

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  echo "python SDK: creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$PINS" > "$STAMP"
fi

echo "python SDK: ruff"
INTEROP=../../packages/interop-tests/src/python
"$VENV/bin/ruff" format --check src tests bench "$INTEROP"
"$VENV/bin/ruff" check src tests bench "$INTEROP"
echo "python SDK: mypy --strict"
"$VENV/bin/mypy"
"$VENV/bin/mypy" --strict "$INTEROP"/service.py "$INTEROP"/otel_service.py "$INTEROP"/otlp_receiver.py
echo "python SDK: pytest"
junit="$(mktemp)"
status=0
"$VENV/bin/pytest" -p no:cacheprovider --junitxml="$junit" || status=$?
if [ -n "${RACEWAY_TEST_REPORTS:-}" ] && [ -s "$junit" ]; then
  # The counts for `pnpm test`'s last line (scripts/test.mjs), from pytest's own JUnit report.
  "$VENV/bin/python" - "$junit" > "$RACEWAY_TEST_REPORTS/pytest.json" <<'PY'
import json, sys, xml.etree.ElementTree as ET
suites = ET.parse(sys.argv[1]).getroot().iter("testsuite")
n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for suite in suites:
    for key in n:
        n[key] += int(suite.get(key, 0))
failed = n["failures"] + n["errors"]
print(json.dumps({"passed": n["tests"] - failed - n["skipped"], "failed": failed, "skipped": n["skipped"]}))
PY
fi
rm -f "$junit"
[ "$status" -eq 0 ] || exit "$status"
# The wheel and the sdist are built and installed into fresh virtualenvs by the release dry run
# (packages/release-tests), with the `build` this virtualenv holds.
