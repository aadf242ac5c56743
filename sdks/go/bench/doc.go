// Package bench measures the SDK's overhead in the same run as its baselines: the per-request
// overhead of raceway.Middleware against a bare handler and OpenTelemetry's otelhttp
// (bench/results/go-middleware-overhead.md), and the per-query overhead of racewaysql against
// the bare driver and OpenTelemetry's otelsql (bench/results/go-sql-overhead.md). It is a module
// of its own so that the SDK modules do not depend on OpenTelemetry or the drivers.
package bench
