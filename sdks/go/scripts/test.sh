#!/usr/bin/env bash
# The Go SDK's checks, run by `pnpm test` (scripts/test.mjs) before the cross-language tests:
# formatting, go vet, staticcheck, the suite under the race detector (every file of
# spec/vectors included), bounded fuzzing of the wire parsers, and the interop service binary
# that packages/interop-tests/src/go starts. Idempotent; a second run reuses the installed
# staticcheck and Go's build and module caches.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # honnef.co/go/tools; supports the Go of this machine (1.26)
# Fuzzing is bounded by a count of executions, not a duration: with -fuzztime=<duration>, Go
# 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" at the
# deadline on a loaded machine (golang/go#75804, fixed in Go 1.27). 50,000 runs take about 10 s
# on one worker here.
FUZZ_EXECS="${RACEWAY_GO_FUZZ_EXECS:-50000}"

if ! command -v go >/dev/null 2>&1; then
  echo "go SDK: the go command is required (Go 1.23 or newer)" >&2
  exit 1
fi

step() { printf '\n--- go SDK: %s\n' "$*"; }

step "gofmt"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...
# racewaysql is a module of its own (it requires the core module only), and its tests on real
# drivers (pgx, SQLite, MySQL, GORM) another, racewaysql/drivertest: neither the core's users
# nor racewaysql's download the drivers the tests use.
(cd racewaysql && go vet ./...)
(cd racewaysql/drivertest && go vet ./...)
# The router adapters are modules of their own too, so that the core gains no dependency on gin
# or echo.
for adapter in racewaygin racewayecho; do (cd "$adapter" && go vet ./...); done

step "staticcheck ${STATICCHECK_VERSION}"
tools="$PWD/.tools"
if ! "$tools/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  GOBIN="$tools" go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
"$tools/staticcheck" ./...
(cd racewaysql && "$tools/staticcheck" ./...)
(cd racewaysql/drivertest && "$tools/staticcheck" ./...)
for adapter in racewaygin racewayecho; do (cd "$adapter" && "$tools/staticcheck" ./...); done

step "go test -race (with every spec/vectors file), racewaysql on real databases, the gin and echo adapters"
log="$(mktemp)"
status=0
# -v for the counts below; the lines of each test that passed or was skipped are left out of
# what is shown, so a failure stands out as it does without -v.
# racewaysql's tests start a throwaway PostgreSQL and MariaDB when their binaries are there
# (RACEWAY_REQUIRE_PG=1, RACEWAY_REQUIRE_MYSQL=1: missing is a failure).
{
  failed=0
  go test -race -count=1 -v ./... || failed=1
  (cd racewaysql/drivertest && go test -race -count=1 -v ./...) || failed=1
  for adapter in racewaygin racewayecho; do
    (cd "$adapter" && go test -race -count=1 -v ./...) || failed=1
  done
  exit "$failed"
} 2>&1 |
  tee "$log" | sed -E '/^ *(=== (RUN|PAUSE|CONT|NAME)|--- (PASS|SKIP):)/d' || status=$?
if [ -n "${RACEWAY_TEST_REPORTS:-}" ]; then
  # The counts for `pnpm test`'s last line (scripts/test.mjs): tests and subtests alike.
  awk '/^ *--- PASS:/ { p++ } /^ *--- FAIL:/ { f++ } /^ *--- SKIP:/ { s++ }
    END { printf "{\"passed\":%d,\"failed\":%d,\"skipped\":%d}\n", p, f, s }' "$log" \
    > "$RACEWAY_TEST_REPORTS/go.json"
fi
rm -f "$log"
[ "$status" -eq 0 ] || exit "$status"

# One fuzz worker: the machine is shared with the rest of the test run.
for target in FuzzExtract FuzzDecodeClock; do
  step "fuzz ${target}: ${FUZZ_EXECS} inputs"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZ_EXECS}x" -parallel 1 ./raceway/
done

step "bench module: vet (it compares the middleware with otelhttp)"
(cd bench && go vet ./...)

step "build bin/raceway-interop (started by packages/interop-tests/src/go)"
go build -o bin/raceway-interop ./internal/cmd/raceway-interop
step "the gin and echo adapters installed from a checkout in a fresh module (scripts/module-check.sh)"
bash scripts/module-check.sh
echo "go SDK: all checks passed"
