package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The application: a route of a ServeMux that answers a small body, as most API routes do.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+r.PathValue("id")+`","status":"paid"}`)
	})
	return mux
}

// collectorSink answers every batch 200, as a healthy collector does, so that the transport
// does its real work (batching, JSON, gzip, POST) in the background during the run.
func collectorSink(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"accepted":1,"duplicates":0}`)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// flusher is what a variant exports at the end of a run, inside the measured CPU time.
type flusher func()

func racewayFlush(c *raceway.Client) flusher {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Flush(ctx)
	}
}

func racewayClient(b *testing.B, opts ...raceway.Option) *raceway.Client {
	base := []raceway.Option{
		raceway.WithServiceName("bench"),
		raceway.WithServerURL(collectorSink(b)),
		raceway.WithInstance("bench-host"),
	}
	client, err := raceway.New(append(base, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Shutdown(ctx)
	})
	return client
}

// otelHandler is otelhttp with the SDK's tracer provider, every span sampled and handed to a
// batch processor whose exporter drops the spans: OpenTelemetry's request path, without the
// cost of serialising and sending that Raceway's figures include.
func otelHandler(b *testing.B, next http.Handler) (http.Handler, flusher) {
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(discarding{exporter}),
	)
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	return otelhttp.NewHandler(next, "orders",
		otelhttp.WithTracerProvider(provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
	), func() { _ = provider.ForceFlush(context.Background()) }
}

// otelOTLPHandler is otelhttp exporting for real: OTLP/HTTP protobuf to a loopback sink, the
// counterpart of Raceway's transport sending JSON to its collector.
func otelOTLPHandler(b *testing.B, next http.Handler) (http.Handler, flusher) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	exporter, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"),
		otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	if err != nil {
		b.Fatal(err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exporter),
	)
	b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	return otelhttp.NewHandler(next, "orders",
		otelhttp.WithTracerProvider(provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
	), func() { _ = provider.ForceFlush(context.Background()) }
}

type discarding struct{ *tracetest.InMemoryExporter }

func (d discarding) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	d.Reset()
	return nil
}

// serve runs b.N requests through h in process: no network, so what differs between the
// variants is the middleware alone. ns/op is the wall time of the requests, what a caller
// waits for; a background exporter on the other core does not show in it, so cpu-ns/op adds
// the process's CPU time (every thread), with what the run queued exported (flush) before the
// CPU clock is read.
func serve(b *testing.B, h http.Handler, headers map[string]string, flush flusher) {
	req := httptest.NewRequest("GET", "/orders/42", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	b.ReportAllocs()
	if flush != nil {
		flush() // what setting up queued is not this run's work
	}
	cpuStart := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer() // ns/op: the requests alone, what a caller waits for
	if flush != nil {
		flush()
	}
	b.ReportMetric(float64(processCPU()-cpuStart)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system time of the whole process.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// A caller that is itself traced: the join path (extract, decode the clock, parent span).
var tracedCaller = map[string]string{
	"X-Raceway-Trace-Id": "4bf92f3577b34da6a3ce929d0e0e4736",
	"X-Raceway-VC":       `{"web#0a1b2c3d":4}`,
	"traceparent":        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}

func BenchmarkMiddleware(b *testing.B) {
	withRaceway := func(b *testing.B, opts ...raceway.Option) (http.Handler, flusher) {
		client := racewayClient(b, opts...)
		return raceway.Middleware(client)(app()), racewayFlush(client)
	}
	b.Run("bare", func(b *testing.B) {
		serve(b, app(), nil, nil)
	})
	b.Run("raceway/new-trace", func(b *testing.B) {
		h, flush := withRaceway(b)
		serve(b, h, nil, flush)
	})
	b.Run("raceway/joined", func(b *testing.B) {
		h, flush := withRaceway(b)
		serve(b, h, tracedCaller, flush)
	})
	b.Run("raceway/unsampled", func(b *testing.B) {
		h, flush := withRaceway(b, raceway.WithSampleRate(0))
		serve(b, h, nil, flush)
	})
	b.Run("otelhttp/new-trace", func(b *testing.B) {
		h, flush := otelHandler(b, app())
		serve(b, h, nil, flush)
	})
	b.Run("otelhttp/joined", func(b *testing.B) {
		h, flush := otelHandler(b, app())
		serve(b, h, tracedCaller, flush)
	})
	b.Run("otelhttp+otlp/new-trace", func(b *testing.B) {
		h, flush := otelOTLPHandler(b, app())
		serve(b, h, nil, flush)
	})
}
