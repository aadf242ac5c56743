// Package bench measures the per-request overhead of raceway.Middleware against a bare handler
// and against OpenTelemetry's otelhttp, in the same run. It is a module of its own so that the
// SDK module does not depend on OpenTelemetry. Results: bench/results/go-middleware-overhead.md.
package bench
