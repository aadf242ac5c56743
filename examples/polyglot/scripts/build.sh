#!/usr/bin/env bash
# Builds what the polyglot shop's services need, per language: a virtualenv with the Python SDK
# (editable, from sdks/python) and the frameworks, the Go auth binary, the Rust order binary.
# Idempotent and quick on a second run: the virtualenv is rebuilt only when its pins change,
# `go build` and `cargo build` rebuild only what changed. The TypeScript services run from the
# packages' builds (`pnpm build`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# What each language needs, said up front rather than as a build error halfway through.
missing=()
"$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null ||
  missing+=("Python 3.10+ with venv ($PYTHON)")
# The minor version of a 1.x toolchain (`go1.26.0`, `cargo 1.95.0 (...)`); empty when absent.
minor_of() {
  command -v "$1" >/dev/null || return 0
  "$@" | sed -nE 's/^(go|cargo )1\.([0-9]+).*/\2/p'
}
go_minor="$(minor_of go env GOVERSION)"
[ -n "$go_minor" ] && [ "$go_minor" -ge 23 ] || missing+=("Go 1.23+ (go)")
rust_minor="$(minor_of cargo --version)"
[ -n "$rust_minor" ] && [ "$rust_minor" -ge 80 ] || missing+=("Rust 1.80+ (cargo)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'polyglot: the shop needs %s\n' "${missing[@]}" >&2
  exit 1
fi
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
