#!/usr/bin/env bash
# Builds what the polyglot shop's services need, per language: a virtualenv with the Python SDK
# (editable, from sdks/python) and the frameworks, the Go auth binary, the Rust order binary.
# Idempotent and quick on a second run: the virtualenv is rebuilt only when its pins change,
# `go build` and `cargo build` rebuild only what changed. The TypeScript services run from the
# packages' builds (`pnpm build`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.pins"
PINS=$(cat requirements.txt ../../sdks/python/pyproject.toml | sha256sum | cut -d" " -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  echo "polyglot: creating $VENV (Python services)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e ../../sdks/python
  echo "$PINS" > "$STAMP"
fi

echo "polyglot: go build (auth)"
(cd services/auth-go && go build -o ../../.build/auth .)

echo "polyglot: cargo build (order)"
# The Rust SDK's target directory: its test script has compiled the dependency tree there already.
CARGO_TARGET_DIR="$(cd ../../sdks/rust && pwd)/target" \
  cargo build --quiet --locked --manifest-path services/order-rust/Cargo.toml
