#!/usr/bin/env bash
# The Go order and inventory services' binary, services/go/.build/sql-races-go, built against the
# Go SDK of this checkout (sdks/go, sdks/go/racewaysql: go.mod's replace directives) with Go's
# own module and build caches, so that a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/../services/go"

minor="$(go env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p')"
if [ -z "$minor" ] || [ "$minor" -lt 26 ]; then
  echo "sql-races: the Go services need Go 1.26+ (go)" >&2
  exit 1
fi
go build -o .build/sql-races-go .
