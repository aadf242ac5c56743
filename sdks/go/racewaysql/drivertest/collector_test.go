package drivertest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// collector is a loopback collector that keeps the db_query events it is sent.
type collector struct {
	mu     sync.Mutex
	events []dbEvent
}

type dbEvent struct {
	TraceID string  `json:"trace_id"`
	Kind    string  `json:"kind"`
	Data    dbQuery `json:"data"`
}

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

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = gz
	}
	var batch struct {
		Events []dbEvent `json:"events"`
	}
	if err := json.NewDecoder(body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, e := range batch.Events {
		if e.Kind == "db_query" {
			c.events = append(c.events, e)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"accepted":`+itoa(len(batch.Events))+`,"duplicates":0}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// tracer is a Raceway client sending to a loopback collector, and a way to run code in a
// traced request's context.
type tracer struct {
	t         *testing.T
	client    *raceway.Client
	collector *collector
	app       *httptest.Server
	work      func(ctx context.Context)
}

func newTracer(t *testing.T, opts ...raceway.Option) *tracer {
	t.Helper()
	c := &collector{}
	server := httptest.NewServer(c)
	t.Cleanup(server.Close)
	opts = append([]raceway.Option{
		raceway.WithServiceName("racewaysql-test"),
		raceway.WithServerURL(server.URL),
		raceway.WithFlushInterval(time.Hour),
	}, opts...)
	client, err := raceway.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{t: t, client: client, collector: c}
	tr.app = httptest.NewServer(raceway.Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.work(r.Context())
	})))
	t.Cleanup(func() {
		tr.app.Close()
		_ = client.Shutdown(context.Background())
	})
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
	if err := tr.client.Flush(context.Background()); err != nil {
		tr.t.Fatal(err)
	}
	tr.collector.mu.Lock()
	defer tr.collector.mu.Unlock()
	out := make([]dbQuery, len(tr.collector.events))
	for i, e := range tr.collector.events {
		out[i] = e.Data
	}
	tr.collector.events = nil
	return out
}

func statements(qs []dbQuery) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Statement
	}
	return out
}
