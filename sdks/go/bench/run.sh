#!/usr/bin/env bash
# Middleware overhead, in interleaved rounds: each round runs every variant once, so that a
# change in the machine's load (it is shared) falls on all variants alike. Prints the raw
# `go test -bench` lines; summarise them with benchstat (golang.org/x/perf/cmd/benchstat).
#   ROUNDS=12 bash sdks/go/bench/run.sh > /tmp/go-bench.txt && benchstat /tmp/go-bench.txt
set -euo pipefail
cd "$(dirname "$0")"
binary="$(mktemp -d)/raceway-go-bench.test"
go test -c -o "$binary" .
for _ in $(seq "${ROUNDS:-12}"); do
  "$binary" -test.run '^$' -test.bench BenchmarkMiddleware -test.benchmem -test.benchtime "${BENCHTIME:-0.5s}"
done
rm -f "$binary"
