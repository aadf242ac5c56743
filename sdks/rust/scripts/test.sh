#!/usr/bin/env bash
# The Rust SDK's checks, run by `pnpm test` (scripts/test.mjs) before the cross-language tests:
# formatting, clippy, the test suite (every file of spec/vectors, read in place), the package,
# and the interop service that packages/interop-tests/src/rust starts. Cargo fetches the crates
# itself (Cargo.lock pins them); everything it builds goes to sdks/rust/target, so a second run
# only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install stable Rust (rustup, or Debian's cargo) first" >&2
  exit 1
fi
# rustfmt and clippy ship with rustup's default profile; add them when a minimal one lacks them.
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

echo "--- cargo fmt --check"
cargo fmt --check
# --all-features: the actix-web middleware (tests/actix.rs) and the database drivers'
# instrumentations (sqlx-postgres, sqlx-sqlite, rusqlite)
# are checked and tested with the rest; their PostgreSQL test starts a throwaway cluster.
echo "--- cargo clippy --all-targets --all-features -- -D warnings"
cargo clippy --locked --all-targets --all-features -- -D warnings
echo "--- cargo test"
log="$(mktemp)"
status=0
cargo test --locked --all-features 2>&1 | tee "$log" || status=$?
if [ -n "${RACEWAY_TEST_REPORTS:-}" ]; then
  # The counts for `pnpm test`'s last line (scripts/test.mjs): the sum of every test binary's
  # (and the doc tests') "test result: ok. N passed; N failed; N ignored; ..." line.
  awk '/^test result:/ { p += $4; f += $6; s += $8 }
    END { printf "{\"passed\":%d,\"failed\":%d,\"skipped\":%d}\n", p, f, s }' "$log" \
    > "$RACEWAY_TEST_REPORTS/cargo.json"
fi
rm -f "$log"
[ "$status" -eq 0 ] || exit "$status"
echo "--- the interop service for packages/interop-tests"
cargo build --locked --example interop_service
# `cargo package` and the installs from a path and from the packaged crate are in the release
# dry run (packages/release-tests).
