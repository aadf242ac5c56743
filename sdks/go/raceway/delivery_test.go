package raceway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubCollector is a loopback collector for the delivery tests: answer decides each request's
// status from the batch's events, and the stub keeps the ids of the events it took, the
// requests of each batch (by its first event id), and how many requests it had at once.
type stubCollector struct {
	server *httptest.Server
	answer func(events []stubEvent) int

	mu         sync.Mutex
	delivered  map[string]int // event id -> times taken
	attempts   map[string]int // first event id of a batch -> requests
	seen       map[string]bool
	requests   int
	dropped    uint64 // the sum of the dropped fields of the batches taken
	active     int
	mostAtOnce int
}

type stubEvent struct {
	ID   string `json:"id"`
	Data struct {
		Name string `json:"name"`
	} `json:"data"`
}

func newStubCollector(t *testing.T, answer func(events []stubEvent) int) *stubCollector {
	s := &stubCollector{
		answer:    answer,
		delivered: map[string]int{},
		attempts:  map[string]int{},
		seen:      map[string]bool{},
	}
	s.server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.server.Close)
	return s
}

func (s *stubCollector) serve(w http.ResponseWriter, r *http.Request) {
	var batch struct {
		Dropped uint64      `json:"dropped"`
		Events  []stubEvent `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil || len(batch.Events) == 0 {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	s.active++
	s.mostAtOnce = max(s.mostAtOnce, s.active)
	s.attempts[batch.Events[0].ID]++
	for _, e := range batch.Events {
		s.seen[e.ID] = true
	}
	s.mu.Unlock()
	status := s.answer(batch.Events)
	s.mu.Lock()
	s.active-- // before the answer is written: the next request may come as soon as it is
	if status == http.StatusOK {
		s.dropped += batch.Dropped
		for _, e := range batch.Events {
			s.delivered[e.ID]++
		}
	}
	s.mu.Unlock()
	if status == 0 { // no answer: the connection is closed
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	w.WriteHeader(status)
}

// takeMostAtOnce returns the most requests the stub had at once, and starts a new measure.
func (s *stubCollector) takeMostAtOnce() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	most := s.mostAtOnce
	s.mostAtOnce = s.active
	return most
}

// attemptsOf is how many requests the batch whose first event is id has had, the current one
// included.
func (s *stubCollector) attemptsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

func (s *stubCollector) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// deliveredOnce returns how many events the stub took, failing the test for any taken twice.
func (s *stubCollector) deliveredOnce(t *testing.T) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.delivered {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	return len(s.delivered)
}

// newStubClient makes a client that reports to the stub, with short retry delays.
func newStubClient(t *testing.T, s *stubCollector, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithServiceName("go-test"),
		WithServerURL(s.server.URL),
		WithFlushInterval(10 * time.Millisecond),
		withBackoff(5*time.Millisecond, 50*time.Millisecond),
		withGetenv(func(string) string { return "" }),
	}
	client, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// goroutinesBack fails the test unless the goroutines are back to n (those left over from
// earlier tests may end meanwhile, hence at most n).
func goroutinesBack(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the client:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
	}
}

// Spec 4.2: a batch the collector keeps answering 503 goes back to the end of the queue and
// never holds a slot that the others need. (Retried in place, three such batches held the
// three slots for good.) WithMaxRetries bounds the poisoned batches here: once the others are
// delivered they fail only among themselves, which gives no strikes (see
// TestPoisonBatchIsDroppedAtItsFifthStrike for those).
func TestFailingBatchesDoNotHoldUpTheOthers(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	gate := make(chan struct{})
	col := newStubCollector(t, func(events []stubEvent) int {
		switch events[0].Data.Name {
		case "gate":
			<-gate
		case "poison":
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	const batchSize, batches = 50, 80
	poisoned := map[int]bool{5: true, 12: true, 13: true, 14: true, 30: true, 41: true}
	const maxRetries = 4
	client := newStubClient(t, col, WithBatchSize(batchSize), WithMaxRetries(maxRetries))
	ctx := withExec(context.Background(), client.startServer(incoming{status: statusAbsent}))

	// The gate, the first batch, is held by the collector while the rest is recorded: batches
	// are then taken full only, so each is one run of 50 events, poisoned or not.
	RecordEvent(ctx, "gate", nil)
	eventually(t, "the gate is sent", func() bool { return col.requestCount() == 1 })
	for b := range batches {
		name := "good"
		if poisoned[b] {
			name = "poison"
		}
		for range batchSize {
			RecordEvent(ctx, name, nil)
		}
	}
	close(gate)
	flushCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, client.Stats())
	}

	const good = 1 + (batches-6)*batchSize
	delivered := col.deliveredOnce(t)
	col.mu.Lock()
	poisonBatches := 0
	for first, n := range col.attempts {
		if col.delivered[first] == 0 {
			poisonBatches++
			if n != 1+maxRetries {
				t.Errorf("a poisoned batch was sent %d times, want %d", n, 1+maxRetries)
			}
		}
	}
	seen := len(col.seen)
	col.mu.Unlock()
	if delivered != good || seen != good+6*batchSize || poisonBatches != 6 {
		t.Errorf("%d events delivered (want %d), %d seen (want %d), %d batches poisoned (want 6)",
			delivered, good, seen, good+6*batchSize, poisonBatches)
	}
	s := client.Stats()
	if s.Sent != good || s.Dropped != 6*batchSize || s.Retries != 6*maxRetries || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}

	// The drops are reported to the collector like any other.
	RecordEvent(ctx, "good", nil)
	if err := client.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	reported := col.dropped
	col.mu.Unlock()
	if reported != 6*batchSize {
		t.Errorf("the batches' dropped fields say %d, want %d", reported, 6*batchSize)
	}
	if err := client.Shutdown(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.server.Close()
	goroutinesBack(t, goroutines)
}

// Spec 4.2, "Giving up": a batch the collector keeps answering 503 while it takes the others
// has a strike at each answer but its first, and is dropped at its 5th strike, on its 6th
// attempt. The service records on: each attempt of a poisoned batch records good events
// (many on the first, a batch's worth on each later one), which are queued ahead of it when its
// 503 comes back, so the collector takes a batch between any two of its answers. Its first
// answer is no strike: nothing was delivered since it was sent. One batch is in flight at a
// time, so that what was delivered between two answers does not depend on timing.
func TestPoisonBatchIsDroppedAtItsFifthStrike(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	const batchSize, poisonBatches, goodOnFirst = 50, 4, 10 * 50
	const attempts = 1 + maxStrikes
	var ctx context.Context
	var good atomic.Int64
	release := make(chan struct{})
	var col *stubCollector
	col = newStubCollector(t, func(events []stubEvent) int {
		if events[0].Data.Name != "poison" {
			return http.StatusOK
		}
		n := col.attemptsOf(events[0].ID)
		if col.requestCount() == 1 {
			<-release // the first poisoned batch waits until every poisoned event is queued
		}
		record := batchSize
		if n == 1 {
			record = goodOnFirst
		}
		for range record {
			RecordEvent(ctx, "good", nil)
		}
		good.Add(int64(record))
		return http.StatusServiceUnavailable
	})
	// A flush interval that never comes: batches are sent full, each poisoned batch alone.
	client := newStubClient(t, col, WithBatchSize(batchSize), WithFlushInterval(time.Hour), withMaxInFlight(1))
	ctx = withExec(context.Background(), client.startServer(incoming{status: statusAbsent}))

	for range batchSize {
		RecordEvent(ctx, "poison", nil)
	}
	eventually(t, "the first poisoned batch is sent", func() bool { return col.requestCount() == 1 })
	for range (poisonBatches - 1) * batchSize {
		RecordEvent(ctx, "poison", nil)
	}
	close(release)
	flushCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eventually(t, "every poisoned batch is dropped", func() bool { return client.Stats().Dropped == poisonBatches*batchSize })
	if err := client.Flush(flushCtx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, client.Stats())
	}

	wantGood := int(good.Load())
	if wantGood != poisonBatches*(goodOnFirst+maxStrikes*batchSize) {
		t.Errorf("%d good events recorded by the poisoned batches' attempts, want %d", wantGood, poisonBatches*(goodOnFirst+maxStrikes*batchSize))
	}
	delivered := col.deliveredOnce(t)
	col.mu.Lock()
	poisonSeen := 0
	for first, n := range col.attempts {
		if col.delivered[first] == 0 {
			poisonSeen++
			if n != attempts {
				t.Errorf("a poisoned batch was sent %d times, want %d", n, attempts)
			}
		}
	}
	seen := len(col.seen)
	col.mu.Unlock()
	if delivered != wantGood || seen != wantGood+poisonBatches*batchSize || poisonSeen != poisonBatches {
		t.Errorf("%d events delivered (want %d), %d seen (want %d), %d batches poisoned (want %d)",
			delivered, wantGood, seen, wantGood+poisonBatches*batchSize, poisonSeen, poisonBatches)
	}
	s := client.Stats()
	if s.Sent != uint64(wantGood) || s.Dropped != poisonBatches*batchSize || s.Retries != poisonBatches*(attempts-1) || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}

	// The drops are reported to the collector like any other.
	RecordEvent(ctx, "good", nil)
	if err := client.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	reported := col.dropped
	col.mu.Unlock()
	if reported != poisonBatches*batchSize {
		t.Errorf("the batches' dropped fields say %d, want %d", reported, poisonBatches*batchSize)
	}
	if err := client.Shutdown(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.server.Close()
	goroutinesBack(t, goroutines)
}

// Spec 4.2, "Giving up": answers during an outage are no strikes. A batch that failed many times
// while nothing was delivered (the collector was down) is not dropped at its first failure once
// the collector is back and takes other batches: it has one strike then, and is delivered.
func TestBatchThatWaitedOutAnOutageIsNotDropped(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	const batchSize, outageAnswers = 50, 8
	var ctx context.Context
	var col *stubCollector
	col = newStubCollector(t, func(events []stubEvent) int {
		if events[0].Data.Name != "waiting" {
			return http.StatusOK
		}
		switch n := col.attemptsOf(events[0].ID); {
		case n < outageAnswers:
			return http.StatusServiceUnavailable // down: the only batch, nothing is delivered
		case n == outageAnswers:
			// The last answer of the outage; the service records on meanwhile, and the
			// collector, back, takes those events before the batch's next attempt.
			for range batchSize {
				RecordEvent(ctx, "good", nil)
			}
			return http.StatusServiceUnavailable
		case n == outageAnswers+1:
			return http.StatusServiceUnavailable // its first failure once the collector is back
		default:
			return http.StatusOK
		}
	})
	client := newStubClient(t, col, WithBatchSize(batchSize), WithFlushInterval(time.Hour))
	ctx = withExec(context.Background(), client.startServer(incoming{status: statusAbsent}))

	for range batchSize {
		RecordEvent(ctx, "waiting", nil)
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eventually(t, "the batch is delivered or dropped", func() bool {
		s := client.Stats()
		return s.Sent+s.Dropped == 2*batchSize
	})
	if err := client.Flush(flushCtx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, client.Stats())
	}

	delivered := col.deliveredOnce(t)
	col.mu.Lock()
	waiting := 0
	for first, n := range col.attempts {
		if col.delivered[first] == 1 && n > 1 {
			waiting++
			if n != outageAnswers+2 {
				t.Errorf("the batch was sent %d times, want %d", n, outageAnswers+2)
			}
		}
	}
	col.mu.Unlock()
	if s := client.Stats(); delivered != 2*batchSize || waiting != 1 || s.Sent != 2*batchSize || s.Dropped != 0 ||
		s.Retries != outageAnswers+1 || s.Queued != 0 {
		t.Errorf("%d events delivered, %d batches retried, stats %+v", delivered, waiting, s)
	}
	if err := client.Shutdown(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.server.Close()
	goroutinesBack(t, goroutines)
}

// Spec 4.2: a collector that is down for a while loses nothing the queue can hold, gets one
// request at a time while it fails, and all the slots once it is back.
func TestCollectorDownThenBackLosesNothing(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	var down atomic.Bool
	down.Store(true)
	var failed atomic.Int64
	col := newStubCollector(t, func([]stubEvent) int {
		if down.Load() {
			if failed.Add(1)%2 == 0 {
				return 0 // no answer at all
			}
			return http.StatusServiceUnavailable
		}
		time.Sleep(10 * time.Millisecond) // a collector slow to commit: requests overlap
		return http.StatusOK
	})
	client := newStubClient(t, col, WithBatchSize(100), withBackoff(10*time.Millisecond, 100*time.Millisecond))
	ctx := withExec(context.Background(), client.startServer(incoming{status: statusAbsent}))

	// One batch, answered 503: the client is failing once it retries that batch.
	RecordEvent(ctx, "tick", nil)
	eventually(t, "the first batch is retried", func() bool { return failed.Load() >= 2 })
	start := time.Now()
	events := 1
	for time.Since(start) < 2*time.Second {
		for range 50 {
			RecordEvent(ctx, "tick", nil)
		}
		events += 50
		time.Sleep(50 * time.Millisecond)
	}
	mostWhileDown := col.takeMostAtOnce()
	down.Store(false)

	flushCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, client.Stats())
	}
	delivered, mostOnceBack := col.deliveredOnce(t), col.takeMostAtOnce()
	t.Logf("%d events, %d failed requests while down, then at most %d requests at once", events, failed.Load(), mostOnceBack)
	if mostWhileDown != 1 || failed.Load() < 10 {
		t.Errorf("%d requests at once while the collector failed (want 1), %d failed requests", mostWhileDown, failed.Load())
	}
	if mostOnceBack < 2 {
		t.Errorf("the slots did not fill again once the collector was back: at most %d request at once", mostOnceBack)
	}
	if s := client.Stats(); delivered != events || s.Sent != uint64(events) || s.Dropped != 0 || s.Queued != 0 {
		t.Errorf("%d of %d events delivered, stats %+v", delivered, events, s)
	}
	if err := client.Shutdown(flushCtx); err != nil {
		t.Fatal(err)
	}
	col.server.Close()
	goroutinesBack(t, goroutines)
}
