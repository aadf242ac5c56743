// Package collectortest is a loopback collector for the tests of the router adapters
// (racewaygin, racewayecho) and of racewaysql on real drivers (racewaysql/drivertest): it keeps
// every event it is sent, so that a test can read what a traced request recorded. It is
// internal to this repository's Go modules (the core's own tests, in package raceway, keep a
// collector of their own: importing this package from there would be an import cycle).
package collectortest

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

// Event is one event as the collector received it.
type Event struct {
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID *string           `json:"parent_span_id"`
	Component    string            `json:"component"`
	Kind         string            `json:"kind"`
	Clock        map[string]uint64 `json:"clock"`
	Data         map[string]any    `json:"data"`

	raw json.RawMessage
}

// DecodeData decodes the event's data, as sent, into v: a typed struct for a test that reads
// many fields, raw JSON values kept byte for byte.
func (e Event) DecodeData(v any) error {
	var event struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(e.raw, &event); err != nil {
		return err
	}
	return json.Unmarshal(event.Data, v)
}

// Collector receives the batches of one client.
type Collector struct {
	URL string

	mu     sync.Mutex
	events []Event
}

// New starts a collector on loopback and a client that sends to it (with a flush interval
// long enough that only Events flushes); both stop when the test ends.
func New(t testing.TB, opts ...raceway.Option) (*Collector, *raceway.Client) {
	t.Helper()
	c := &Collector{}
	server := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(server.Close)
	c.URL = server.URL
	opts = append([]raceway.Option{
		raceway.WithServiceName("adapter-test"),
		raceway.WithServerURL(server.URL),
		raceway.WithFlushInterval(time.Hour),
	}, opts...)
	client, err := raceway.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Shutdown(context.Background()) })
	return c, client
}

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
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
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(body).Decode(&batch); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	events := make([]Event, len(batch.Events))
	for i, raw := range batch.Events {
		if err := json.Unmarshal(raw, &events[i]); err != nil {
			http.Error(w, "bad event: "+err.Error(), http.StatusBadRequest)
			return
		}
		events[i].raw = raw
	}
	c.mu.Lock()
	c.events = append(c.events, events...)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	n, _ := json.Marshal(len(batch.Events))
	_, _ = io.WriteString(w, `{"accepted":`+string(n)+`,"duplicates":0}`)
}

// Events flushes the client and returns every event received so far.
func (c *Collector) Events(t testing.TB, client *raceway.Client) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// One returns the only event of a kind, failing the test when there is not exactly one.
func One(t testing.TB, events []Event, kind string) Event {
	t.Helper()
	var found []Event
	for _, e := range events {
		if e.Kind == kind {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events in %+v", len(found), kind, events)
	}
	return found[0]
}
