package raceway

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SDK identifies this SDK in every batch (batch.schema.json's sdk field).
const (
	sdkName     = "raceway-go"
	SDKVersion  = "0.1.0"
	sdkLanguage = "go"
)

const (
	maxAnswerBytes = 1 << 20
	// shutdownRetries bounds the retries while shutting down: once the collector answered
	// `retry` this many times more in a row, it is taken as gone and the rest is dropped, so that
	// a collector that is gone ends the shutdown instead of holding it until its deadline.
	shutdownRetries = 3
	userAgentHeader = sdkName + "/" + SDKVersion
	// maxBatchesInFlight is how many batches are sent at once: a collector that takes a few
	// milliseconds per durable batch would otherwise bound a busy service's export rate. (Tests
	// may set another count: config.maxInFlight.)
	maxBatchesInFlight = 3
	// maxStrikes: a batch with this many strikes is dropped (spec 4.2, "Giving up"). A strike
	// is a `retry` answer received when the collector took another batch since the batch's
	// previous answer (for its first answer, since it was sent): the collector is up, and it is
	// this batch it cannot take. An outage gives no strikes, however long it lasts.
	maxStrikes = 5
)

// exporter is the transport to the collector: a bounded queue that the request path appends
// to without blocking, and one goroutine that batches, compresses and sends it as spec 4.2
// says: up to maxBatchesInFlight batches at once while the collector takes them, one at a time
// with backoff while it fails, and a failing batch back to the end of the queue so that it
// does not hold up the others.
type exporter struct {
	cfg    config
	client *http.Client

	mu         sync.Mutex
	queue      []*event
	held       int // queued, in flight or waiting for a retry: what maxQueueSize bounds
	heldBytes  int // their estimated encoded size: what maxQueueBytes bounds
	closed     bool
	unreported uint64 // drops not yet reported to the collector in a batch's dropped field
	counters   Stats

	wake      chan struct{} // a full batch is waiting
	flushes   chan flushRequest
	stop      chan context.Context
	done      chan struct{}
	runCtx    context.Context // the goroutine's own sends; cancelled when Shutdown starts
	cancelRun context.CancelFunc
	stopOnce  sync.Once
	stopErr   error // what shutdown returns: the context's error when events were left
	warnings  *deliveryWarnings
	gz        *gzip.Writer

	// Owned by the run goroutine.

	// retrying holds the batches answered `retry`, encoded, in the order they went back to
	// the queue: each is sent once the events queued ahead of it have left.
	retrying []*outgoingBatch
	// failures counts the `retry` answers in a row, over every batch: the collector is failing
	// while it is above 0, and the delay before the next request grows with it.
	failures int
	// retryAt is when the next request may start while the collector is failing.
	retryAt time.Time
	// delivered counts the `delivered` and `partial` answers, for the strikes of the giving-up
	// rule.
	delivered uint64
	// stopping is set when the sends of a shutdown start; stopFailures then counts the `retry`
	// answers in a row since, and past shutdownRetries the collector is taken as gone: gaveUp
	// is set and the rest is dropped at once, so that a Shutdown(context.Background()) does not
	// retry every queued batch in turn.
	stopping     bool
	stopFailures int
	gaveUp       bool
}

type flushRequest struct {
	ctx  context.Context
	done chan struct{}
}

func newExporter(cfg config) *exporter {
	client := cfg.httpClient
	if client == nil {
		// A transport of its own: never http.DefaultTransport, which an application may have
		// wrapped with Client.Transport (Raceway never traces its own calls).
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}}
	}
	e := &exporter{
		cfg:      cfg,
		client:   client,
		wake:     make(chan struct{}, 1),
		flushes:  make(chan flushRequest),
		stop:     make(chan context.Context),
		done:     make(chan struct{}),
		gz:       newGzipWriter(cfg.endpoint),
		warnings: newDeliveryWarnings(cfg),
	}
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	go e.run()
	return e
}

// newGzipWriter compresses at BestSpeed: event JSON is repetitive enough that the fastest
// level already shrinks it several times, and the background goroutine shares the CPU with
// the application.
// A collector on loopback gets plain JSON: compressing costs CPU and saves no network.
func newGzipWriter(endpoint string) *gzip.Writer {
	if u, err := url.Parse(endpoint); err == nil && isLoopbackHost(u.Hostname()) {
		return nil
	}
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level never fails
	return w
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// enqueue never blocks: beyond maxQueueSize, or after Shutdown, the event is dropped and counted.
func (e *exporter) enqueue(ev *event) {
	size := ev.estimatedSize()
	e.mu.Lock()
	if e.closed || e.held >= e.cfg.maxQueueSize || e.heldBytes+size > e.cfg.maxQueueBytes {
		e.countDroppedLocked(1, "queue full or shut down: event dropped", 0)
		e.mu.Unlock()
		return
	}
	e.queue = append(e.queue, ev)
	e.held++
	e.heldBytes += size
	full := len(e.queue) >= e.cfg.batchSize
	e.mu.Unlock()
	if full {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// releaseLocked gives back the room of events that left the queue for good.
func (e *exporter) releaseLocked(events []*event) {
	for _, ev := range events {
		e.held--
		e.heldBytes -= ev.estimatedSize()
	}
}

// countDroppedLocked counts n events lost for good; status is the collector's answer, 0 when
// none.
func (e *exporter) countDroppedLocked(n int, why string, status int) {
	e.counters.Dropped += uint64(n)
	e.unreported += uint64(n)
	e.counters.LastError = why
	e.warnings.dropped(n, why, status)
}

func (e *exporter) stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.counters
	s.Queued = e.held
	return s
}

func (e *exporter) logf(format string, args ...any) {
	if e.cfg.logger != nil {
		e.cfg.logger.Warn(fmt.Sprintf(format, args...))
	}
}

// ErrUndelivered is what Shutdown returns when the collector did not answer its last retries
// and the events still queued were dropped (and counted) rather than delivered.
var ErrUndelivered = errors.New("raceway: the collector did not answer; undelivered events were dropped")

func (e *exporter) run() {
	defer close(e.done)
	ticker := time.NewTicker(e.cfg.flushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.wake:
			e.sendAll(e.runCtx, fullBatches)
		case <-ticker.C:
			e.sendAll(e.runCtx, intervalDue)
		case req := <-e.flushes:
			e.sendAll(req.ctx, drainAll)
			close(req.done)
		case ctx := <-e.stop:
			e.stopping = true
			if e.failures > 0 {
				// The collector was failing, maybe for long: the shutdown's retries start the
				// backoff over, so that they fit in its deadline.
				e.failures, e.retryAt = 1, time.Time{}
			}
			if !e.sendAll(ctx, drainAll) {
				e.abandon("shutdown: not delivered before the context ended")
				e.stopErr = ctx.Err()
			} else if e.gaveUp {
				e.stopErr = ErrUndelivered
			}
			return
		}
	}
}

// flush asks the goroutine to send everything queued now and waits for it.
func (e *exporter) flush(ctx context.Context) error {
	req := flushRequest{ctx: ctx, done: make(chan struct{})}
	select {
	case e.flushes <- req:
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *exporter) shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultShutdownTimeout)
		defer cancel()
	}
	first := false
	e.stopOnce.Do(func() {
		first = true
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		// A send or a backoff of the goroutine's own gives way to the shutdown's, which has
		// the caller's deadline.
		e.cancelRun()
	})
	if first {
		select {
		case e.stop <- ctx:
		case <-e.done:
		}
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		<-e.done // the goroutine's requests use ctx: it ends promptly
	}
	return e.stopErr // written before done was closed
}

// abandon drops and counts everything still queued or waiting for a retry.
func (e *exporter) abandon(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.queue)
	e.releaseLocked(e.queue)
	e.queue = nil
	for _, batch := range e.retrying {
		n += len(batch.events)
		e.releaseLocked(batch.events)
		e.unreported += batch.reported
	}
	e.retrying = nil
	if n > 0 {
		e.countDroppedLocked(n, why, 0)
	}
}

// pending tells whether anything is queued or waiting for a retry.
func (e *exporter) pending() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.retrying) > 0 || len(e.queue) > 0
}

// answer is what one request got: a status and its Retry-After, or err when no answer came.
type answer struct {
	batch      *outgoingBatch
	status     int
	retryAfter time.Duration // 0 when none was asked
	text       string
	err        error
}

// sendMode says which batches a call of sendAll may take from the queue (spec 4.2, Batching).
type sendMode int

const (
	// fullBatches: a full batch woke the exporter; fewer events wait for the flush interval.
	fullBatches sendMode = iota
	// intervalDue: the flush interval ran out; one batch may be smaller than batchSize.
	intervalDue
	// drainAll: a flush or a shutdown; everything queued goes.
	drainAll
)

// sendAll sends what is queued (spec 4.2) and returns once nothing it may send is queued and
// nothing is in flight; false when ctx ended first (what was not delivered is kept for later).
// While the collector takes batches, up to maxBatchesInFlight are in flight, and while some
// are, only full ones are taken from the queue, so that a busy service's batches stay full; a
// smaller batch goes only as mode allows, never merely because a request was answered (a
// trickle of events would go out a round trip's worth at a time). While it is failing, one
// request is in flight at a time, after the retry delay.
func (e *exporter) sendAll(ctx context.Context, mode sendMode) bool {
	slots := e.cfg.maxInFlight
	finished := make(chan answer, slots)
	inFlight := 0
	for {
		if ctx.Err() == nil && !e.gaveUp {
			var batch *outgoingBatch
			switch {
			case e.failures == 0 && inFlight < slots:
				batch = e.nextBatch(inFlight > 0 || mode == fullBatches)
				if mode == intervalDue && batch != nil && batch.failures == 0 &&
					len(batch.events) < e.cfg.batchSize {
					mode = fullBatches // the interval's one small batch
				}
			case e.failures > 0 && inFlight == 0 && e.pending():
				if e.waitRetry(ctx) {
					batch = e.nextBatch(false)
				}
			}
			if batch != nil {
				if batch.failures > 0 {
					e.mu.Lock()
					e.counters.Retries++
					e.mu.Unlock()
				} else {
					batch.deliveredMark = e.delivered // its first answer: since it was sent
				}
				inFlight++
				go func() { finished <- e.post(ctx, batch) }()
				continue
			}
		}
		if inFlight == 0 {
			break
		}
		if e.failures > 0 || inFlight == slots {
			e.settle(ctx, <-finished)
			inFlight--
			continue
		}
		select {
		case a := <-finished:
			e.settle(ctx, a)
			inFlight--
		case <-e.wake: // a full batch is queued: there is a slot for it
		}
	}
	if e.gaveUp {
		e.abandon("shutdown: the collector did not answer, the rest is dropped")
		return true
	}
	return !e.pending()
}

// waitRetry waits until the next request may start while the collector is failing; false when
// ctx ended first.
func (e *exporter) waitRetry(ctx context.Context) bool {
	wait := time.Until(e.retryAt)
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nextBatch is the batch to send next: the first one waiting for a retry once the events
// queued ahead of it have left, else a new one from the queue (with fullOnly, only a full
// one). Nil when there is none.
func (e *exporter) nextBatch(fullOnly bool) *outgoingBatch {
	if len(e.retrying) > 0 && e.retrying[0].ahead == 0 {
		batch := e.retrying[0]
		e.retrying[0] = nil
		e.retrying = e.retrying[1:]
		if len(e.retrying) == 0 {
			e.retrying = nil // let the backing array go
		}
		return batch
	}
	return e.takeBatch(fullOnly)
}

// settle acts on an answer (spec 4.1, 4.2).
func (e *exporter) settle(ctx context.Context, a answer) {
	batch := a.batch
	if a.err != nil && ctx.Err() != nil {
		// Called off (a Shutdown, or the end of a Flush's context), not answered: the batch
		// goes back to the head of the queue, and nothing is said about the collector.
		batch.ahead = 0
		e.retrying = append([]*outgoingBatch{batch}, e.retrying...)
		return
	}
	switch outcome := classifyAnswer(a.status, a.err); outcome {
	case outcomeDelivered, outcomePartial:
		if e.failures > 0 {
			e.warnings.recovered(e.failures)
		}
		e.failures, e.stopFailures, e.retryAt = 0, 0, time.Time{}
		e.delivered++
		rejected := 0
		if outcome == outcomePartial {
			rejected = countRejected(a.text, len(batch.events))
		}
		e.mu.Lock()
		e.releaseLocked(batch.events)
		e.counters.Sent += uint64(len(batch.events) - rejected)
		e.counters.BatchesSent++
		if rejected > 0 {
			e.counters.Rejected += uint64(rejected)
			e.countDroppedLocked(rejected, fmt.Sprintf("collector rejected %d events (422)", rejected), 0)
		}
		e.mu.Unlock()
		if rejected > 0 {
			e.logf("collector rejected %d of %d events: %s", rejected, len(batch.events), truncate(a.text, 512))
		}
	case outcomeDropped:
		// An answer: the next request need not wait. Only a delivery ends a failure, though:
		// the count of failures in a row stays.
		e.retryAt = time.Time{}
		e.lose(batch, fmt.Sprintf("collector answered %d: batch dropped", a.status), a.status)
	default:
		e.failed(batch, a)
	}
}

// failed acts on a `retry` answer: the batch goes back to the end of the queue, unless it is
// given up, and the next request waits the retry delay.
func (e *exporter) failed(batch *outgoingBatch, a answer) {
	e.mu.Lock()
	held := e.held
	e.mu.Unlock()
	e.warnings.failing(describeFailure(a), held)
	e.retryAt = time.Now().Add(e.cfg.backoff.delay(e.failures, rand.Float64(), a.retryAfter))
	e.failures++
	if e.stopping {
		e.stopFailures++
	}
	batch.failures++
	// A strike only when the collector took another batch since this one's previous answer (or
	// its sending): the collector is up, and it is this batch it cannot take.
	if e.delivered > batch.deliveredMark {
		batch.strikes++
	}
	batch.deliveredMark = e.delivered
	switch {
	case batch.strikes >= maxStrikes:
		e.lose(batch, fmt.Sprintf("batch dropped: the collector failed on it %d times while taking others (%d answers in all; last: status %d, %v)",
			batch.strikes, batch.failures, a.status, a.err), 0)
	case e.cfg.maxRetries != unlimitedRetries && batch.failures > e.cfg.maxRetries:
		e.lose(batch, fmt.Sprintf("batch dropped after %d retries: status %d, %v", batch.failures-1, a.status, a.err), 0)
	case e.stopping && e.stopFailures > shutdownRetries:
		e.lose(batch, fmt.Sprintf("shutdown: batch dropped after %d retries: status %d, %v", shutdownRetries, a.status, a.err), 0)
		e.gaveUp = true
	default:
		e.mu.Lock()
		batch.ahead = len(e.queue)
		e.mu.Unlock()
		e.retrying = append(e.retrying, batch)
	}
}

// lose counts a batch as lost: its events, and the dropped count it carried, go into the next
// batch's dropped field.
func (e *exporter) lose(batch *outgoingBatch, why string, status int) {
	e.mu.Lock()
	e.releaseLocked(batch.events)
	e.unreported += batch.reported
	e.countDroppedLocked(len(batch.events), why, status)
	e.mu.Unlock()
}

// describeFailure says what a `retry` answer was: the status, or why there was none.
func describeFailure(a answer) string {
	if a.err != nil {
		return "collector unreachable: " + a.err.Error()
	}
	return fmt.Sprintf("HTTP %d", a.status)
}

// outgoingBatch is a batch taken from the queue and encoded: its events (those that could be
// encoded), the body, and the dropped count it reports (taken from unreported, given back when
// the batch is dropped). A batch answered `retry` keeps its body, so its event ids, and its
// events keep their room in the queue's bound until it is delivered or dropped.
type outgoingBatch struct {
	events   []*event
	body     []byte
	reported uint64
	// failures counts its `retry` answers, strikes those of them that were strikes (spec 4.2),
	// and deliveredMark is the exporter's delivered count when it was sent (before its first
	// answer), then at its last answer.
	failures      int
	strikes       int
	deliveredMark uint64
	// ahead, while it waits for a retry, is how many of the events queued ahead of it when it
	// went back are still queued: it goes once none is.
	ahead int
}

// takeBatch takes a batch off the head of the queue and encodes it (the run goroutine owns the
// gzip writer); with fullOnly, only when a full batch is queued. Nil when there is none.
func (e *exporter) takeBatch(fullOnly bool) *outgoingBatch {
	for {
		e.mu.Lock()
		size := min(len(e.queue), e.cfg.batchSize)
		if size == 0 || fullOnly && size < e.cfg.batchSize {
			e.mu.Unlock()
			return nil
		}
		events := e.queue[:size:size]
		e.queue = e.queue[size:]
		if len(e.queue) == 0 {
			e.queue = nil // let the backing array go
		}
		e.mu.Unlock()
		for _, waiting := range e.retrying {
			waiting.ahead = max(0, waiting.ahead-size)
		}
		if batch := e.encode(events); batch != nil {
			return batch
		}
		// None of them could be encoded (dropped and counted): the next ones, then.
	}
}

// giveBackReported returns a batch's dropped count to unreported: the batch did not reach the
// collector, so the next one reports it.
func (e *exporter) giveBackReported(reported uint64) {
	e.mu.Lock()
	e.unreported += reported
	e.mu.Unlock()
}

// encode makes the body of a batch (gzip'd unless the collector is on loopback) from the
// events that can be encoded: one that cannot is dropped, counted and released here, and left
// out of the batch returned (nil when none is left). The batch's `dropped` count is taken from
// unreported, so that batches in flight at once do not report the same drops twice.
func (e *exporter) encode(events []*event) *outgoingBatch {
	e.mu.Lock()
	reported := e.unreported
	e.unreported = 0
	e.mu.Unlock()
	var raw bytes.Buffer
	fmt.Fprintf(&raw, `{"sdk":{"name":%q,"version":%q,"language":%q},"dropped":%d,"events":[`,
		sdkName, SDKVersion, sdkLanguage, reported)
	kept := events[:0] // filtered in place: these events have left the queue
	var failed []*event
	line := make([]byte, 0, 1024)
	for _, ev := range events {
		var err error
		line, err = ev.appendJSON(line[:0])
		if err != nil {
			failed = append(failed, ev)
			continue
		}
		if len(kept) > 0 {
			raw.WriteByte(',')
		}
		raw.Write(line)
		kept = append(kept, ev)
	}
	raw.WriteString("]}")
	if len(failed) > 0 {
		e.mu.Lock()
		e.countDroppedLocked(len(failed), "event could not be encoded", 0)
		e.releaseLocked(failed)
		e.mu.Unlock()
	}
	if len(kept) == 0 {
		e.giveBackReported(reported)
		return nil
	}
	batch := &outgoingBatch{events: kept, reported: reported, body: raw.Bytes()}
	if e.gz != nil {
		var out bytes.Buffer
		e.gz.Reset(&out)
		_, _ = e.gz.Write(raw.Bytes())
		_ = e.gz.Close()
		batch.body = out.Bytes()
	}
	return batch
}

// post sends a batch's body once.
func (e *exporter) post(ctx context.Context, batch *outgoingBatch) answer {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.endpoint, bytes.NewReader(batch.body))
	if err != nil {
		return answer{batch: batch, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if e.gz != nil {
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", userAgentHeader)
	if e.cfg.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.apiKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return answer{batch: batch, err: err}
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	retryAfter, _ := parseRetryAfter(resp.Header, time.Now())
	return answer{batch: batch, status: resp.StatusCode, retryAfter: retryAfter, text: string(text)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutString(s, n) + "…"
}
