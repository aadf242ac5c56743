package bench

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/XSAM/otelsql"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
	"github.com/raceway-dev/raceway/sdks/go/racewaysql"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// Per-query overhead of racewaysql against the bare driver (modernc.org/sqlite, pure Go, on a
// file in a temp dir) and against OpenTelemetry's database/sql instrumentation (otelsql), in the
// same run. The queries run inside one traced request (Raceway's middleware, or otelhttp for
// otelsql), as a handler runs them: each is a db_query event (or a span, child of the
// request's). A query is what the docs' read-modify-write runs: a SELECT of one row by id, read
// with Scan, or an UPDATE by id.

func openBenchDB(b *testing.B, open func(dsn string) (*sql.DB, error)) *sql.DB {
	dsn := filepath.Join(b.TempDir(), "bench.db")
	db, err := open(dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=OFF",
		"CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, stock INTEGER, version INTEGER)",
		"INSERT INTO products VALUES (42, 'mug', 1000000, 1)",
	} {
		if _, err := db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

type queryKind func(ctx context.Context, db *sql.DB, i int) error

func selectByID(ctx context.Context, db *sql.DB, _ int) error {
	var stock, version int
	return db.QueryRowContext(ctx, "SELECT stock, version FROM products WHERE id = ?", 42).Scan(&stock, &version)
}

func updateByID(ctx context.Context, db *sql.DB, i int) error {
	_, err := db.ExecContext(ctx, "UPDATE products SET stock = ?, version = ? WHERE id = ?", 1000000-i, i, 42)
	return err
}

// inRequest runs b.N queries inside one request through h (so in its traced context), timing
// the queries alone; cpu-ns/op counts the process's CPU, the export of what they queued
// included (flush).
func inRequest(b *testing.B, wrap func(http.Handler) http.Handler, db *sql.DB, query queryKind, flush flusher) {
	var failed error
	h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		for i := 0; i < 100; i++ { // warm the statement cache and the pools
			if err := query(ctx, db, i); err != nil {
				failed = err
				return
			}
		}
		if flush != nil {
			flush()
		}
		b.ReportAllocs()
		cpuStart := processCPU()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := query(ctx, db, i); err != nil {
				failed = err
				return
			}
		}
		b.StopTimer()
		if flush != nil {
			flush()
		}
		b.ReportMetric(float64(processCPU()-cpuStart)/float64(b.N), "cpu-ns/op")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/orders/42", nil))
	if failed != nil {
		b.Fatal(failed)
	}
}

func bareHandler(next http.Handler) http.Handler { return next }

func BenchmarkSQL(b *testing.B) {
	for _, q := range []struct {
		name  string
		query queryKind
	}{{"select", selectByID}, {"update", updateByID}} {
		b.Run(q.name+"/bare", func(b *testing.B) {
			db := openBenchDB(b, func(dsn string) (*sql.DB, error) { return sql.Open("sqlite", dsn) })
			inRequest(b, bareHandler, db, q.query, nil)
		})
		b.Run(q.name+"/raceway", func(b *testing.B) {
			client := racewayClient(b)
			db := openBenchDB(b, func(dsn string) (*sql.DB, error) { return racewaysql.Open("sqlite", dsn) })
			inRequest(b, raceway.Middleware(client), db, q.query, racewayFlush(client))
		})
		b.Run(q.name+"/raceway-untraced", func(b *testing.B) {
			// The wrapper outside traced work: what every statement of a background job pays.
			db := openBenchDB(b, func(dsn string) (*sql.DB, error) { return racewaysql.Open("sqlite", dsn) })
			inRequest(b, bareHandler, db, q.query, nil)
		})
		b.Run(q.name+"/otelsql", func(b *testing.B) {
			exporter := tracetest.NewInMemoryExporter()
			provider := sdktrace.NewTracerProvider(
				sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithBatcher(discarding{exporter}),
			)
			b.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
			db := openBenchDB(b, func(dsn string) (*sql.DB, error) {
				return otelsql.Open("sqlite", dsn,
					otelsql.WithTracerProvider(provider),
					otelsql.WithAttributes(semconv.DBSystemSqlite))
			})
			wrap := func(next http.Handler) http.Handler {
				return otelhttp.NewHandler(next, "orders", otelhttp.WithTracerProvider(provider))
			}
			inRequest(b, wrap, db, q.query, func() { _ = provider.ForceFlush(context.Background()) })
		})
	}
}
