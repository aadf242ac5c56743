#!/usr/bin/env bash
# Per-query overhead of racewaysql against the bare driver and otelsql (sql_bench_test.go), in
# interleaved rounds: each round runs every variant once, so that a change in the machine's load
# falls on all variants alike. Prints the raw `go test -bench` lines; summarise them with
# benchstat (golang.org/x/perf/cmd/benchstat).
#   ROUNDS=10 bash sdks/go/bench/sql-run.sh > /tmp/go-sql-bench.txt && benchstat /tmp/go-sql-bench.txt
set -euo pipefail
cd "$(dirname "$0")"
binary="$(mktemp -d)/raceway-go-sql-bench.test"
go test -c -o "$binary" .
for _ in $(seq "${ROUNDS:-10}"); do
  "$binary" -test.run '^$' -test.bench BenchmarkSQL -test.benchmem -test.benchtime "${BENCHTIME:-20000x}"
done
rm -f "$binary"
