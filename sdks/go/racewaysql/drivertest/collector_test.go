package drivertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/raceway-dev/raceway/sdks/go/internal/collectortest"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// dbQuery is the data of a db_query event.
type dbQuery struct {
	System             string              `json:"system"`
	Statement          string              `json:"statement"`
	StatementTruncated bool                `json:"statement_truncated"`
	Params             []dbParam           `json:"params"`
	Connection         string              `json:"connection"`
	Database           string              `json:"database"`
	Rows               *int64              `json:"rows"`
	Returned           []map[string]string `json:"returned"`
	Error              *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	DurationMs *float64 `json:"duration_ms"`
}

type dbParam struct {
	Digest string          `json:"digest"`
	Name   string          `json:"name"`
	Value  json.RawMessage `json:"value"`
}

// tracer is a Raceway client sending to a loopback collector, and a way to run code in a
// traced request's context.
type tracer struct {
	t         *testing.T
	client    *raceway.Client
	collector *collectortest.Collector
	seen      int // events already returned by queries
	app       *httptest.Server
	work      func(ctx context.Context)
}

func newTracer(t *testing.T, opts ...raceway.Option) *tracer {
	t.Helper()
	c, client := collectortest.New(t, append([]raceway.Option{raceway.WithServiceName("racewaysql-test")}, opts...)...)
	tr := &tracer{t: t, client: client, collector: c}
	tr.app = httptest.NewServer(raceway.Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.work(r.Context())
	})))
	t.Cleanup(tr.app.Close)
	return tr
}

// traced runs fn in the context of a traced request, as a handler would.
func (tr *tracer) traced(fn func(ctx context.Context)) {
	tr.t.Helper()
	tr.work = fn
	resp, err := http.Post(tr.app.URL+"/work", "text/plain", nil)
	if err != nil {
		tr.t.Fatal(err)
	}
	resp.Body.Close()
}

// queries flushes the client and returns the db_query events received since the last call.
func (tr *tracer) queries() []dbQuery {
	tr.t.Helper()
	events := tr.collector.Events(tr.t, tr.client)
	fresh := events[tr.seen:]
	tr.seen = len(events)
	out := []dbQuery{}
	for _, e := range fresh {
		if e.Kind != "db_query" {
			continue
		}
		var q dbQuery
		if err := e.DecodeData(&q); err != nil {
			tr.t.Fatalf("db_query data: %v", err)
		}
		out = append(out, q)
	}
	return out
}

func statements(qs []dbQuery) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Statement
	}
	return out
}
