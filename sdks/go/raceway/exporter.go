package raceway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SDK identifies this SDK in every batch (batch.schema.json's sdk field).
const (
	sdkName     = "raceway-go"
	SDKVersion  = "0.1.0"
	sdkLanguage = "go"
)

// Retry delays: retry n waits a random time up to min(retryMax, retryBase * 2^n) ("full
// jitter", so that processes that lost the collector together do not come back in waves).
const (
	retryBase      = 250 * time.Millisecond
	retryMax       = 5 * time.Second
	maxAnswerBytes = 1 << 20
	// shutdownRetries bounds the retries of a batch while shutting down, so that a collector
	// that is gone ends the shutdown instead of holding it until its deadline.
	shutdownRetries = 3
	userAgentHeader = sdkName + "/" + SDKVersion
	// maxBatchesInFlight is how many batches are sent at once: a collector that takes a few
	// milliseconds per durable batch would otherwise bound a busy service's export rate.
	maxBatchesInFlight = 3
)

// exporter is the transport to the collector: a bounded queue that the request path appends
// to without blocking, and one goroutine that batches and compresses it, and sends up to
// maxBatchesInFlight batches at once.
type exporter struct {
	cfg    config
	client *http.Client

	mu         sync.Mutex
	queue      []*event
	held       int // queued + in flight: what maxQueueSize bounds
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
	// Written by the run goroutine before it starts the sends of a shutdown: the sends read it.
	stopping bool
	// Set while shutting down, once a batch ran out of retries. The collector is then taken as
	// gone and the rest is dropped at once, so that a Shutdown(context.Background()) does not
	// retry every queued batch in turn.
	gaveUp atomic.Bool
	// Whether the last attempt got no usable answer (under mu), so that the debug log says
	// once that the collector went away and once that it came back.
	unreachable bool
	warnedDrop  atomic.Bool // the first drop is logged even without debug, once
	gz          *gzip.Writer
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
		cfg:     cfg,
		client:  client,
		wake:    make(chan struct{}, 1),
		flushes: make(chan flushRequest),
		stop:    make(chan context.Context),
		done:    make(chan struct{}),
		gz:      newGzipWriter(cfg.endpoint),
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
		e.countDroppedLocked(1, "queue full or shut down: event dropped")
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

func (e *exporter) countDroppedLocked(n int, why string) {
	e.counters.Dropped += uint64(n)
	e.unreported += uint64(n)
	e.counters.LastError = why
	if !e.warnedDrop.Swap(true) {
		// Losing events is worth one line in any case; the debug log has every later drop.
		logger := e.cfg.logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("raceway: events dropped (further drops are counted in Client.Stats, and logged with RACEWAY_DEBUG)",
			"count", n, "reason", why)
	}
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
			e.sendAll(e.runCtx)
		case <-ticker.C:
			e.sendAll(e.runCtx)
		case req := <-e.flushes:
			e.sendAll(req.ctx)
			close(req.done)
		case ctx := <-e.stop:
			e.stopping = true
			if !e.sendAll(ctx) {
				e.abandon("shutdown: not delivered before the context ended")
				e.stopErr = ctx.Err()
			} else if e.gaveUp.Load() {
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

// abandon drops and counts everything still queued.
func (e *exporter) abandon(why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.queue); n > 0 {
		e.countDroppedLocked(n, why)
		e.releaseLocked(e.queue)
		e.queue = nil
		e.logf("%s: %d events dropped", why, n)
	}
}

// sendAll sends what is queued, up to maxBatchesInFlight batches at once, and returns once
// nothing is queued or in flight; false when ctx ended first (the batches not delivered are
// put back at the head of the queue, in order). While batches are in flight, only full ones
// are taken, so that a busy service's batches stay full; the rest goes once they are done.
func (e *exporter) sendAll(ctx context.Context) bool {
	type result struct {
		batch     outgoingBatch
		delivered bool
	}
	finished := make(chan result, maxBatchesInFlight)
	inFlight, taken := 0, 0
	var undelivered []outgoingBatch
	collect := func(r result) {
		inFlight--
		if !r.delivered {
			undelivered = append(undelivered, r.batch)
		}
	}
	for {
		if inFlight < maxBatchesInFlight && ctx.Err() == nil && !e.gaveUp.Load() {
			if batch, ok := e.takeBatch(inFlight > 0); ok {
				batch.seq = taken
				taken++
				inFlight++
				go func() { finished <- result{batch, e.send(ctx, batch)} }()
				continue
			}
		}
		if inFlight == 0 {
			break
		}
		if inFlight == maxBatchesInFlight {
			collect(<-finished)
			continue
		}
		select {
		case r := <-finished:
			collect(r)
		case <-e.wake: // a full batch is queued: there is a slot for it
		}
	}
	if len(undelivered) > 0 {
		slices.SortFunc(undelivered, func(a, b outgoingBatch) int { return a.seq - b.seq })
		var back []*event
		for _, batch := range undelivered {
			back = append(back, batch.events...)
			e.giveBackReported(batch.reported)
		}
		e.mu.Lock()
		e.queue = append(back, e.queue...)
		e.mu.Unlock()
		return false
	}
	if e.gaveUp.Load() {
		e.abandon("shutdown: the collector did not answer, the rest is dropped")
	}
	return true
}

// outgoingBatch is a batch taken from the queue and encoded: its events (those that could be
// encoded), the body, and the dropped count it reports (taken from unreported, given back when
// the batch is not delivered). seq is its place in the order batches were taken.
type outgoingBatch struct {
	events   []*event
	body     []byte
	reported uint64
	seq      int
}

// takeBatch takes a batch off the head of the queue and encodes it (the run goroutine owns the
// gzip writer); with fullOnly, only when a full batch is queued. False when there is none.
func (e *exporter) takeBatch(fullOnly bool) (outgoingBatch, bool) {
	for {
		e.mu.Lock()
		size := min(len(e.queue), e.cfg.batchSize)
		if size == 0 || fullOnly && size < e.cfg.batchSize {
			e.mu.Unlock()
			return outgoingBatch{}, false
		}
		events := e.queue[:size:size]
		e.queue = e.queue[size:]
		if len(e.queue) == 0 {
			e.queue = nil // let the backing array go
		}
		e.mu.Unlock()
		if batch := e.encode(events); len(batch.events) > 0 {
			return batch, true
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

// send delivers one batch, retrying as spec 4.1 says; false when ctx ended before an outcome.
// Up to maxBatchesInFlight run at once.
func (e *exporter) send(ctx context.Context, batch outgoingBatch) bool {
	for attempt := 0; ; attempt++ {
		status, retryAfter, answer, err := e.post(ctx, batch.body)
		outcome := classifyStatus(status, err)
		e.noteReachability(outcome, status, err)
		switch {
		case outcome == outcomeDelivered || outcome == outcomePartial:
			rejected := 0
			if outcome == outcomePartial {
				rejected = countRejected(answer, len(batch.events))
			}
			e.mu.Lock()
			e.releaseLocked(batch.events)
			e.counters.Sent += uint64(len(batch.events) - rejected)
			e.counters.BatchesSent++
			if rejected > 0 {
				e.counters.Rejected += uint64(rejected)
				e.countDroppedLocked(rejected, fmt.Sprintf("collector rejected %d events (422)", rejected))
			}
			e.mu.Unlock()
			if rejected > 0 {
				e.logf("collector rejected %d of %d events: %s", rejected, len(batch.events), truncate(answer, 512))
			}
			return true
		case outcome == outcomeDropped:
			e.lose(batch, fmt.Sprintf("collector answered %d: batch dropped", status))
			return true
		case ctx.Err() != nil:
			return false
		case e.cfg.maxRetries != unlimitedRetries && attempt >= e.cfg.maxRetries,
			e.stopping && attempt >= shutdownRetries:
			why := fmt.Sprintf("batch dropped after %d retries: status %d, %v", attempt, status, err)
			e.lose(batch, why)
			if e.stopping {
				e.gaveUp.Store(true)
			}
			return true
		}
		delay := backoffDelay(attempt, retryBase, retryMax, rand.Float64)
		delay = min(retryMax, max(delay, retryAfter))
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false
		}
		e.mu.Lock()
		e.counters.Retries++
		e.mu.Unlock()
	}
}

// noteReachability logs (in debug) when the collector stops answering and when it is back.
func (e *exporter) noteReachability(outcome sendOutcome, status int, err error) {
	e.mu.Lock()
	lost := outcome == outcomeRetry && !e.unreachable
	back := outcome != outcomeRetry && e.unreachable
	e.unreachable = outcome == outcomeRetry
	e.mu.Unlock()
	switch {
	case lost:
		e.logf("collector unreachable, retrying with backoff while the queue has room: status %d, %v", status, err)
	case back:
		e.logf("collector reachable again")
	}
}

// lose counts a batch as lost: its events, and the dropped count it carried, go into the next
// batch's dropped field.
func (e *exporter) lose(batch outgoingBatch, why string) {
	e.mu.Lock()
	e.releaseLocked(batch.events)
	e.unreported += batch.reported
	e.countDroppedLocked(len(batch.events), why)
	e.mu.Unlock()
	e.logf("%s (%d events)", why, len(batch.events))
}

// encode makes the body of a batch (gzip'd unless the collector is on loopback) from the
// events that can be encoded: one that cannot is dropped, counted and released here, and left
// out of the batch returned. The batch's `dropped` count is taken from unreported, so that
// batches in flight at once do not report the same drops twice.
func (e *exporter) encode(events []*event) outgoingBatch {
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
		e.countDroppedLocked(len(failed), "event could not be encoded")
		e.releaseLocked(failed)
		e.mu.Unlock()
	}
	if len(kept) == 0 {
		e.giveBackReported(reported)
		return outgoingBatch{}
	}
	batch := outgoingBatch{events: kept, reported: reported, body: raw.Bytes()}
	if e.gz != nil {
		var out bytes.Buffer
		e.gz.Reset(&out)
		_, _ = e.gz.Write(raw.Bytes())
		_ = e.gz.Close()
		batch.body = out.Bytes()
	}
	return batch
}

// post sends one body; status 0 means no answer (err says why).
func (e *exporter) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, answer string, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", err
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
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), string(text), nil
}

type sendOutcome int

const (
	outcomeDelivered sendOutcome = iota // every event is durable
	outcomePartial                      // 422: the valid ones are durable, the rejected are dropped
	outcomeDropped                      // 400, 401, 413, 415, other 4xx: unusable as sent, never retried
	outcomeRetry                        // no answer, 408, 429, 5xx: nothing guaranteed durable
)

// classifyStatus is spec 4.1.
func classifyStatus(status int, err error) sendOutcome {
	switch {
	case err != nil || status == 0:
		return outcomeRetry
	case status >= 200 && status < 300:
		return outcomeDelivered
	case status == http.StatusUnprocessableEntity:
		return outcomePartial
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return outcomeRetry
	default:
		return outcomeDropped
	}
}

// countRejected reads a 422 answer's rejected list; an unreadable answer counts the whole
// batch, so that the drop counter errs towards reporting a problem.
func countRejected(answer string, batchSize int) int {
	var parsed struct {
		Rejected []json.RawMessage `json:"rejected"`
	}
	if err := json.Unmarshal([]byte(answer), &parsed); err != nil || parsed.Rejected == nil {
		return batchSize
	}
	return min(len(parsed.Rejected), batchSize)
}

// backoffDelay is full jitter: a random delay in [0, min(cap, base * 2^attempt)).
func backoffDelay(attempt int, base, cap time.Duration, random func() float64) time.Duration {
	ceiling := cap
	if attempt < 30 {
		ceiling = min(cap, base*time.Duration(1<<attempt))
	}
	return time.Duration(random() * float64(ceiling))
}

// parseRetryAfter reads Retry-After (seconds or an HTTP date); 0 when absent or unreadable.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(value, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutString(s, n) + "…"
}
