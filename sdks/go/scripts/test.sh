#!/usr/bin/env bash
# The Go SDK's checks, run by `pnpm test` (scripts/test.mjs) before the cross-language tests:
# formatting, go vet, staticcheck, the suite under the race detector (every file of
# spec/vectors included), bounded fuzzing of the wire parsers, and the interop service binary
# that packages/interop-tests/src/go starts. Idempotent; a second run reuses the installed
# staticcheck and Go's build and module caches.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # honnef.co/go/tools; supports the Go of this machine (1.26)
FUZZ_TIME="${RACEWAY_GO_FUZZTIME:-10s}"

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

step "staticcheck ${STATICCHECK_VERSION}"
tools="$PWD/.tools"
if ! "$tools/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  GOBIN="$tools" go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
"$tools/staticcheck" ./...

step "go test -race (with every spec/vectors file)"
go test -race -count=1 ./...

# One fuzz worker: the machine is shared, and a starved worker makes the coordinator give up.
for target in FuzzExtract FuzzDecodeClock; do
  step "fuzz ${target} for ${FUZZ_TIME}"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZ_TIME" -parallel 1 ./raceway/
done

step "bench module: vet (it compares the middleware with otelhttp)"
(cd bench && go vet ./...)

step "build bin/raceway-interop (started by packages/interop-tests/src/go)"
go build -o bin/raceway-interop ./internal/cmd/raceway-interop
echo "go SDK: all checks passed"
