#!/usr/bin/env bash
# The polyglot shop's Python, Go and Rust services held to their languages' standard checks,
# with the tools and rules the SDKs pin: ruff and mypy --strict from the Python SDK's virtualenv,
# gofmt, go vet and the Go SDK's staticcheck, rustfmt and clippy -D warnings in the Rust SDK's
# target directory. The TypeScript services are biome's and tsc's, like all of the repository's
# TypeScript. Run by `pnpm test` after the SDKs' own scripts, which install those tools.
set -euo pipefail
cd "$(dirname "$0")/.."
sdks="$(cd ../../sdks && pwd)"

python_tools="$sdks/python/.venv/bin"
staticcheck="$sdks/go/.tools/staticcheck"
for tool in "$python_tools/ruff" "$python_tools/mypy" "$staticcheck"; do
  if [ ! -x "$tool" ]; then
    echo "polyglot checks: $tool is missing; run the SDKs' scripts/test.sh first" >&2
    exit 1
  fi
done

step() { printf '\n--- polyglot shop: %s\n' "$*"; }

step "ruff"
"$python_tools/ruff" format --check services
"$python_tools/ruff" check services
step "mypy --strict"
# The Python SDK's virtualenv has the frameworks the services import, at the same pins, and the
# stubs for requests.
for service in services/*-python/app.py; do
  "$python_tools/mypy" --strict "$service" # one at a time: both modules are `app`
done

step "gofmt, go vet, staticcheck"
(
  cd services/auth-go
  unformatted="$(gofmt -l .)"
  if [ -n "$unformatted" ]; then
    echo "not gofmt-formatted: $unformatted" >&2
    exit 1
  fi
  go vet ./...
  "$staticcheck" ./...
)

step "rustfmt, clippy"
export CARGO_TARGET_DIR="$sdks/rust/target"
cargo fmt --check --manifest-path services/order-rust/Cargo.toml
cargo clippy --quiet --locked --all-targets --manifest-path services/order-rust/Cargo.toml \
  -- -D warnings
