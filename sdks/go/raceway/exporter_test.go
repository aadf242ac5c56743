package raceway

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordN records n custom events in one execution context of client, outside any server.
func recordN(client *Client, n int) {
	x := client.startServer(incoming{status: statusAbsent})
	ctx := withExec(context.Background(), x)
	for i := 0; i < n; i++ {
		RecordEvent(ctx, "tick", nil)
	}
}

// redirectTo sends every request to the fake collector, whatever its URL says: the client
// then believes it talks to a remote collector (and compresses).
func redirectTo(col *fakeCollector) *http.Client {
	target := col.server.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, target)
		},
	}}
}

func TestTransportSendsGzipBatchesWithTheSDKAndAPIKey(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col, WithAPIKey("s3cret"), WithBatchSize(3),
		WithServerURL("http://collector.example:8080"), WithHTTPClient(redirectTo(col)))
	recordN(client, 7)
	flushed(t, client, col)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 3 {
		t.Fatalf("7 events in batches of 3: want 3 batches, got %d", len(col.batches))
	}
	b := col.batches[0]
	if b.header.Get("Content-Encoding") != "gzip" || b.header.Get("Authorization") != "Bearer s3cret" ||
		b.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", b.header)
	}
	if b.SDK["name"] != sdkName || b.SDK["language"] != "go" || b.SDK["version"] != SDKVersion {
		t.Errorf("sdk %v", b.SDK)
	}
	if s := client.Stats(); s.Sent != 7 || s.BatchesSent != 3 || s.Queued != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestTransportFollowsCollectorAnswers(t *testing.T) {
	cases := []struct {
		name                             string
		status                           int
		body                             string
		wantSent, wantDropped, wantRetry uint64
		wantRejected                     uint64
	}{
		{"422 counts the rejected as dropped", 422, `{"accepted":3,"duplicates":0,"rejected":[{"index":0,"errors":["x"]},{"index":2,"errors":["y"]}]}`, 3, 2, 0, 2},
		{"400 drops the batch", 400, `{"error":"bad"}`, 0, 5, 0, 0},
		{"401 drops the batch", 401, `{"error":"key"}`, 0, 5, 0, 0},
		{"413 drops the batch", 413, ``, 0, 5, 0, 0},
		{"415 drops the batch", 415, ``, 0, 5, 0, 0},
		{"503 is retried", 503, ``, 5, 0, 1, 0},
		{"429 is retried", 429, ``, 5, 0, 1, 0},
		{"408 is retried", 408, ``, 5, 0, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col := newFakeCollector(t)
			col.answer = func(n int, b wireBatch) (int, string, http.Header) {
				if n == 0 {
					return tc.status, tc.body, http.Header{"Retry-After": {"0"}}
				}
				return 200, `{"accepted":5,"duplicates":0}`, nil
			}
			client := newTestClient(t, col, WithBatchSize(5))
			recordN(client, 5)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := client.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			s := client.Stats()
			if s.Sent != tc.wantSent || s.Dropped != tc.wantDropped || s.Retries != tc.wantRetry ||
				s.Rejected != tc.wantRejected || s.Queued != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestLoopbackCollectorsGetPlainJSON(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	recordN(client, 1)
	flushed(t, client, col)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 1 || col.batches[0].header.Get("Content-Encoding") != "" {
		t.Errorf("a collector on loopback is sent uncompressed JSON: %+v", col.batches)
	}
}

func TestQueueIsBoundedInBytes(t *testing.T) {
	client, err := New(WithServiceName("go-test"), WithServerURL(deadAddress(t)), WithMaxQueueBytes(64<<10),
		withGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = client.Shutdown(ctx)
	}()
	x := client.startServer(incoming{status: statusAbsent})
	ctx := withExec(context.Background(), x)
	big := strings.Repeat("x", 900)
	for i := 0; i < 1000; i++ {
		TrackStateWrite(ctx, "blob", Value(big))
	}
	s := client.Stats()
	// About 1.3 KB an event: 64 KiB hold a few dozen.
	if s.Queued < 20 || s.Queued > 64 || s.Dropped != uint64(1000-s.Queued) {
		t.Errorf("byte bound not applied: %+v", s)
	}
}

func TestDropsAreReportedInTheNextBatch(t *testing.T) {
	col := newFakeCollector(t)
	col.answer = func(n int, b wireBatch) (int, string, http.Header) {
		if n == 0 {
			return 400, `{"error":"bad"}`, nil
		}
		return 200, `{"accepted":1,"duplicates":0}`, nil
	}
	client := newTestClient(t, col, WithBatchSize(2))
	recordN(client, 2)
	flushed(t, client, col)
	recordN(client, 1)
	flushed(t, client, col)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 1 || col.batches[0].Dropped != 2 {
		t.Fatalf("want the next batch to report 2 dropped, got %+v", col.batches)
	}
}

func TestRetriesAreBoundedAndDropped(t *testing.T) {
	col := newFakeCollector(t)
	col.answer = func(int, wireBatch) (int, string, http.Header) { return 500, "", nil }
	client := newTestClient(t, col, WithMaxRetries(2))
	recordN(client, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = client.Flush(ctx)
	if s := client.Stats(); s.Dropped != 4 || s.Retries != 2 || col.requestCount() != 3 || s.Queued != 0 {
		t.Errorf("stats %+v after %d requests", s, col.requestCount())
	}
}

// deadAddress is a loopback URL where nothing listens.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}

// A collector that is gone never blocks the application and never holds more than
// maxQueueSize events: the rest are dropped and counted.
func TestDeadCollectorKeepsMemoryBounded(t *testing.T) {
	client, err := New(WithServiceName("go-test"), WithServerURL(deadAddress(t)), WithMaxQueueSize(1000),
		WithFlushInterval(5*time.Millisecond), withGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const events = 200_000
	recordN(client, events)
	runtime.GC()
	runtime.ReadMemStats(&after)
	s := client.Stats()
	if s.Queued > 1000 || s.Dropped < events-1000 {
		t.Errorf("queue not bounded: %+v", s)
	}
	// 200,000 events held would take tens of MB; 1,000 take well under one.
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes with a dead collector", grown)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := client.Shutdown(ctx); err == nil {
		t.Errorf("Shutdown should report that events were left undelivered")
	}
	t.Logf("Shutdown with a 300ms context returned after %v", time.Since(start))
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("Shutdown overran its context by far: %v", waited)
	}
	if s := client.Stats(); s.Queued != 0 || s.Dropped != events {
		t.Errorf("after shutdown every event is sent or counted: %+v", s)
	}
}

func TestShutdownFlushesAndLaterEventsAreCounted(t *testing.T) {
	col := newFakeCollector(t)
	client, err := New(WithServiceName("go-test"), WithServerURL(col.server.URL),
		WithFlushInterval(time.Hour), withGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	recordN(client, 5)
	if err := client.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(col.events()); n != 5 {
		t.Errorf("Shutdown delivered %d of 5 events", n)
	}
	recordN(client, 1)
	if s := client.Stats(); s.Dropped != 1 {
		t.Errorf("an event after Shutdown must be counted as dropped: %+v", s)
	}
	if err := client.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Beyond delivery.json: the other HTTP date formats, and values too large for a Duration.
func TestBackoffAndRetryAfterEdges(t *testing.T) {
	now := time.Date(1994, 11, 6, 8, 49, 30, 0, time.UTC)
	for _, value := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		if d, ok := parseRetryAfter(http.Header{"Retry-After": {value}}, now); !ok || d != 7*time.Second {
			t.Errorf("Retry-After %q: %v, %v", value, d, ok)
		}
	}
	huge, ok := parseRetryAfter(http.Header{"Retry-After": {"99999999999999999999999"}}, now)
	if !ok || huge <= 0 {
		t.Errorf("a huge Retry-After is a long time: %v, %v", huge, ok)
	}
	if d := defaultBackoff.delay(0, 0, huge); d != 5*time.Second {
		t.Errorf("the cap applies to Retry-After: %v", d)
	}
	for _, retry := range []int{-1, 0, 1, 5, 30, 31, 1 << 40} {
		if d := defaultBackoff.jitter(retry, 0.999999); d < 0 || d >= 5*time.Second {
			t.Errorf("retry %d: %v is outside [0, 5s)", retry, d)
		}
	}
	if d := (backoff{base: time.Hour, cap: 2 * time.Hour}).jitter(40, 0.5); d != time.Hour {
		t.Errorf("base << 30 must not overflow: %v", d)
	}
	for _, status := range []int{0, 99, 600, 999} {
		if o := classifyAnswer(status, nil); o != outcomeDropped {
			t.Errorf("status %d: %v", status, o)
		}
	}
}

func TestDebugLogSaysWhenTheCollectorGoesAndComesBack(t *testing.T) {
	col := newFakeCollector(t)
	col.answer = func(n int, b wireBatch) (int, string, http.Header) {
		if n == 0 {
			return 503, "", http.Header{"Retry-After": {"0"}}
		}
		return 200, `{"accepted":1,"duplicates":0}`, nil
	}
	var logged bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(p)
	}), nil))
	client := newTestClient(t, col, WithLogger(logger))
	recordN(client, 1)
	flushed(t, client, col)
	mu.Lock()
	defer mu.Unlock()
	text := logged.String()
	if !strings.Contains(text, "cannot deliver events to "+col.server.URL+"/v1/events (HTTP 503)") || !strings.Contains(text, "reachable again") {
		t.Errorf("debug log: %s", text)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestUpToThreeBatchesAreInFlightAtOnce(t *testing.T) {
	col := newFakeCollector(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	col.answer = func(int, wireBatch) (int, string, http.Header) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release // a collector slow to commit: every batch waits until the test lets it go
		mu.Lock()
		inFlight--
		mu.Unlock()
		return 200, `{"accepted":1,"duplicates":0}`, nil
	}
	client := newTestClient(t, col, WithBatchSize(10), WithFlushInterval(time.Hour))
	recordN(client, 100) // 10 batches, each woken by a full batch
	deadline := time.Now().Add(5 * time.Second)
	for col.requestCount() < maxBatchesInFlight && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // time for a fourth request, which must not come
	mu.Lock()
	waiting := inFlight
	mu.Unlock()
	close(release)
	if waiting != maxBatchesInFlight {
		t.Fatalf("%d batches in flight while the collector held them, want %d", waiting, maxBatchesInFlight)
	}
	events := flushed(t, client, col)
	if len(events) != 100 || most != maxBatchesInFlight {
		t.Errorf("%d events delivered (want 100), at most %d in flight", len(events), most)
	}
	if s := client.Stats(); s.Sent != 100 || s.Queued != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Events recorded while a full batch is in flight wait for the flush interval (or a full batch
// of their own): the answer does not send them, or a trickle would go out a round trip's worth
// of events at a time, each paying a whole request (spec 4.2, Batching).
func TestAnAnswerDoesNotSendASmallBatch(t *testing.T) {
	col := newFakeCollector(t)
	release := make(chan struct{})
	col.answer = func(int, wireBatch) (int, string, http.Header) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return 200, `{"accepted":1,"duplicates":0}`, nil
	}
	client := newTestClient(t, col, WithBatchSize(10), WithFlushInterval(time.Hour))
	recordN(client, 10) // a full batch: sent at once, held by the collector
	deadline := time.Now().Add(5 * time.Second)
	for col.requestCount() < 1 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	recordN(client, 3) // recorded while the batch is in flight
	close(release)
	time.Sleep(100 * time.Millisecond) // the answer, then time for a second request, which must not come
	if n := col.requestCount(); n != 1 {
		t.Fatalf("%d requests after the full batch was answered, want 1 (3 events wait for the interval)", n)
	}
	if events := flushed(t, client, col); len(events) != 13 {
		t.Errorf("%d events delivered after the flush, want 13", len(events))
	}
}

func TestBatchesInFlightTogetherReportEachDropOnce(t *testing.T) {
	col := newFakeCollector(t)
	col.answer = func(n int, b wireBatch) (int, string, http.Header) {
		if n == 0 {
			return 400, `{"error":"bad"}`, nil // its 10 events are dropped, to be reported once
		}
		return 200, `{"accepted":1,"duplicates":0}`, nil
	}
	client := newTestClient(t, col, WithBatchSize(10), WithFlushInterval(time.Hour))
	recordN(client, 10)
	flushed(t, client, col)
	recordN(client, 60) // 6 batches, 3 at a time: exactly one of them says 10 dropped
	flushed(t, client, col)
	col.mu.Lock()
	defer col.mu.Unlock()
	var reported uint64
	for _, b := range col.batches {
		reported += b.Dropped
	}
	if len(col.batches) != 6 || reported != 10 {
		t.Errorf("%d batches delivered (want 6) reporting %d dropped in all (want 10)", len(col.batches), reported)
	}
}
