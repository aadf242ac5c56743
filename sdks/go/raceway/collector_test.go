package raceway

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
)

// fakeCollector is a loopback collector that keeps every batch it was sent. answer decides the
// response to each request (nil: 200).
type fakeCollector struct {
	t      testing.TB
	server *httptest.Server

	mu       sync.Mutex
	batches  []wireBatch
	requests int
	answer   func(n int, batch wireBatch) (status int, body string, header http.Header)
}

type wireBatch struct {
	SDK     map[string]string `json:"sdk"`
	Dropped uint64            `json:"dropped"`
	Events  []json.RawMessage `json:"events"`
	header  http.Header
}

type wireEvent struct {
	ID           string            `json:"id"`
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID *string           `json:"parent_span_id"`
	Component    string            `json:"component"`
	Kind         string            `json:"kind"`
	TsUs         int64             `json:"ts_us"`
	Clock        map[string]uint64 `json:"clock"`
	ClockDropped uint64            `json:"clock_dropped"`
	Data         map[string]any    `json:"data"`
	raw          json.RawMessage
}

func newFakeCollector(t testing.TB) *fakeCollector {
	c := &fakeCollector{t: t}
	c.server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.server.Close)
	return c
}

func (c *fakeCollector) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = gz
	}
	var batch wireBatch
	if err := json.NewDecoder(body).Decode(&batch); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	batch.header = r.Header.Clone()
	c.mu.Lock()
	n := c.requests
	c.requests++
	answer := c.answer
	c.mu.Unlock()
	status, text, header := http.StatusOK, `{"accepted":1,"duplicates":0}`, http.Header(nil)
	if answer != nil {
		status, text, header = answer(n, batch)
	}
	if status >= 200 && status < 300 || status == http.StatusUnprocessableEntity {
		c.mu.Lock()
		c.batches = append(c.batches, batch)
		c.mu.Unlock()
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// events returns every event received so far, decoded.
func (c *fakeCollector) events() []wireEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireEvent
	for _, b := range c.batches {
		for _, raw := range b.Events {
			var e wireEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				c.t.Fatalf("event %s: %v", raw, err)
			}
			e.raw = raw
			out = append(out, e)
		}
	}
	return out
}

func (c *fakeCollector) requestCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// newTestClient makes a client that reports to the fake collector and is shut down after the test.
func newTestClient(t testing.TB, col *fakeCollector, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithServiceName("go-test"),
		WithServerURL(col.server.URL),
		WithFlushInterval(10 * time.Millisecond),
		withGetenv(func(string) string { return "" }),
	}
	client, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Shutdown(ctx)
	})
	return client
}

// flushed flushes the client and returns the events the collector has, checking each against
// the contract's schema.
func flushed(t testing.TB, client *Client, col *fakeCollector) []wireEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	events := col.events()
	for _, e := range events {
		if err := validateEventJSON(t, e.raw); err != nil {
			t.Errorf("event does not validate against event.schema.json: %v\n%s", err, e.raw)
		}
	}
	return events
}

func ofKind(events []wireEvent, kind string) []wireEvent {
	var out []wireEvent
	for _, e := range events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func onlyOne(t testing.TB, events []wireEvent, kind string) wireEvent {
	t.Helper()
	found := ofKind(events, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s event, got %d", kind, len(found))
	}
	return found[0]
}
