#!/usr/bin/env bash
# The Rust order and inventory services' binary (services/rust: axum and sqlx, traced by the Rust
# SDK of this checkout through its path dependency), built in the SDK's own target directory:
# its test script has compiled the dependency tree there already, and a second run only checks
# that nothing changed.
set -euo pipefail
cd "$(dirname "$0")/../services/rust"

minor="$(cargo --version 2>/dev/null | sed -nE 's/^cargo 1\.([0-9]+).*/\1/p')"
if [ -z "$minor" ] || [ "$minor" -lt 80 ]; then
  echo "sql-races: the Rust services need Rust 1.80+ (cargo)" >&2
  exit 1
fi
CARGO_TARGET_DIR="$(cd ../../../../sdks/rust && pwd)/target" \
  cargo build --quiet --locked
