#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh virtualenv (no dev dependencies, no network: the
# SDK has no runtime dependency) and runs scripts/wheel_smoke.py there.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
.venv/bin/python -m build --wheel --no-isolation --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; exit 1; }
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$WORK"/dist/raceway_sdk-*.whl
(cd "$WORK" && "$WORK/venv/bin/python" "$OLDPWD/scripts/wheel_smoke.py")
