package raceway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// serveOne runs handler inside one traced request and waits for it.
func serveOne(t *testing.T, client *Client, handler func(ctx context.Context)) {
	t.Helper()
	srv := httptest.NewServer(Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(r.Context())
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/work")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Goroutines sharing one request context record concurrently: under -race this is the test
// that the prior art's Go SDK failed. Every event must get its own, distinct step of the
// context's component.
func TestGoroutinesRecordingOnOneContext(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	const goroutines, perGoroutine = 8, 50
	serveOne(t, client, func(ctx context.Context) {
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perGoroutine; i++ {
					TrackStateWrite(ctx, "counter", Value(i))
					_ = client.GetTraceHeaders(ctx)
					client.MergeResponseHeaders(ctx, http.Header{})
				}
			}()
		}
		wg.Wait()
	})
	events := flushed(t, client, col)
	writes := ofKind(events, kindStateWrite)
	if len(writes) != goroutines*perGoroutine {
		t.Fatalf("want %d writes, got %d", goroutines*perGoroutine, len(writes))
	}
	own := writes[0].Component
	steps := map[uint64]bool{}
	for _, e := range events {
		if e.Component != own {
			continue
		}
		if steps[e.Clock[own]] {
			t.Fatalf("two events share step %d of %s", e.Clock[own], own)
		}
		steps[e.Clock[own]] = true
	}
	// request_received, response_sent, and per iteration the write, the request_sent of
	// GetTraceHeaders and the response_received of MergeResponseHeaders.
	if want := 2 + 3*goroutines*perGoroutine; len(steps) != want {
		t.Errorf("want %d distinct steps, got %d", want, len(steps))
	}
}

func TestForkedBranchesAreConcurrentAndJoined(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	serveOne(t, client, func(ctx context.Context) {
		a := Fork(ctx)
		wait := Go(ctx, func(ctx context.Context) { TrackStateWrite(ctx, "row", Value("b")) })
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			TrackStateWrite(a.Context(), "row", Value("a"))
		}()
		wg.Wait()
		a.Join()
		a.Join() // a second Join does nothing
		wait()
		TrackStateRead(ctx, "row")
	})
	events := flushed(t, client, col)
	writes := ofKind(events, kindStateWrite)
	read := onlyOne(t, events, kindStateRead)
	if len(writes) != 2 || len(ofKind(events, kindFork)) != 2 || len(ofKind(events, kindJoin)) != 2 {
		t.Fatalf("writes %d forks %d joins %d", len(writes), len(ofKind(events, kindFork)), len(ofKind(events, kindJoin)))
	}
	if writes[0].Component == writes[1].Component || writes[0].Component == read.Component {
		t.Errorf("branches need components of their own")
	}
	if compare(writes[0].Clock, writes[1].Clock) != OrderConcurrent {
		t.Errorf("branches should be concurrent: %v %v", writes[0].Clock, writes[1].Clock)
	}
	for _, w := range writes {
		if compare(w.Clock, read.Clock) != OrderBefore {
			t.Errorf("a joined branch happens before the parent's next event: %v %v", w.Clock, read.Clock)
		}
		if w.SpanID != read.SpanID {
			t.Errorf("a branch shares its parent's span")
		}
	}
}

func TestRecordingOutsideTracedWorkDoesNothing(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	ctx := context.Background()
	TrackStateRead(ctx, "x")
	TrackStateWrite(ctx, "x")
	RecordError(ctx, context.Canceled)
	RecordEvent(ctx, "custom", nil)
	_ = WithLock(ctx, "l", &sync.Mutex{}, func() error { return nil })
	b := Fork(ctx)
	b.Join()
	if b.Context() != ctx || TraceID(ctx) != "" {
		t.Errorf("a branch of untraced work is the work itself")
	}
	if n := len(flushed(t, client, col)); n != 0 {
		t.Errorf("%d events outside traced work", n)
	}
	var nilClient *Client
	if !nilClient.Disabled() || nilClient.Transport(nil) != http.DefaultTransport || len(nilClient.GetTraceHeaders(ctx)) != 0 {
		t.Errorf("a nil client must be usable and do nothing")
	}
}

func TestEveryEventKindTheSDKRecordsValidates(t *testing.T) {
	col := newFakeCollector(t)
	client := newTestClient(t, col)
	var mu sync.Mutex
	serveOne(t, client, func(ctx context.Context) {
		_ = WithLock(ctx, "stock-lock", &mu, func() error {
			TrackStateRead(ctx, "stock", Value(map[string]any{"big": make([]int, 2000)}), Version("etag-1"))
			TrackStateWrite(ctx, "stock", Value(nil), Version(3.5), Atomic())
			return nil
		})
		RecordError(ctx, context.DeadlineExceeded)
		RecordEvent(ctx, "cache_miss", map[string]any{"key": "k", "n": 1, "bad": make(chan int)})
		Go(ctx, func(ctx context.Context) {})()
		_ = client.GetTraceHeaders(ctx)
	})
	kinds := map[string]bool{}
	for _, e := range flushed(t, client, col) { // flushed validates each against the schema
		kinds[e.Kind] = true
	}
	for _, k := range []string{kindRequestReceived, kindResponseSent, kindRequestSent, kindStateRead,
		kindStateWrite, kindLockAcquire, kindLockRelease, kindError, kindFork, kindJoin, kindCustom} {
		if !kinds[k] {
			t.Errorf("no %s event recorded", k)
		}
	}
}
