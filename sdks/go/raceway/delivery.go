package raceway

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The parts of spec 4.2 ("Delivery") that are functions, pinned by spec/vectors/delivery.json:
// what an answer of the collector means, what Retry-After asks, and how long to wait before a
// retry. The exporter uses them.

// sendOutcome is what an answer of the collector means for its batch (spec 4.1).
type sendOutcome int

const (
	outcomeDelivered sendOutcome = iota // 2xx: every event is durable
	outcomePartial                      // 422: the valid ones are durable, the rejected are dropped
	outcomeDropped                      // other 1xx, 3xx, 4xx, or outside 100-599: never retried
	outcomeRetry                        // no answer, 408, 429, 5xx: nothing guaranteed durable
)

// String is the outcome as the spec writes it.
func (o sendOutcome) String() string {
	switch o {
	case outcomeDelivered:
		return "delivered"
	case outcomePartial:
		return "partial"
	case outcomeDropped:
		return "dropped"
	default:
		return "retry"
	}
}

// classifyAnswer is spec 4.2's outcome of an answer: err is not nil when the request got no
// answer (refused, reset, timed out), and status is then ignored.
func classifyAnswer(status int, err error) sendOutcome {
	switch {
	case err != nil:
		return outcomeRetry
	case status >= 200 && status <= 299:
		return outcomeDelivered
	case status == http.StatusUnprocessableEntity:
		return outcomePartial
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		status >= 500 && status <= 599:
		return outcomeRetry
	default: // 1xx, 3xx, other 4xx, and statuses outside 100-599
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

// parseRetryAfter is the delay an answer's Retry-After header asks for, from now: delta seconds
// (digits alone, surrounding whitespace trimmed) or an HTTP date (IMF-fixdate, RFC 850 or
// asctime; a date already past asks for no delay). False when the header is absent or is
// neither (negative, a fraction, empty, a date without weekday and month names).
func parseRetryAfter(header http.Header, now time.Time) (time.Duration, bool) {
	value := strings.TrimSpace(header.Get("Retry-After"))
	if value == "" {
		return 0, false
	}
	if strings.Trim(value, "0123456789") == "" {
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil || secs > uint64(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64, true // "a very long time": the cap applies anyway
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(0, at.Sub(now)), true
}

// backoff is spec 4.2's delay before a retry, with base and cap as parameters: the spec's are
// defaultBackoff's, and only tests use others.
type backoff struct {
	base, cap time.Duration
}

// defaultBackoff is the spec's: 250 ms base, 5 s cap.
var defaultBackoff = backoff{base: 250 * time.Millisecond, cap: 5 * time.Second}

// maxBackoffExponent is where the doubling stops (250 ms * 2^30 is far above the cap anyway).
const maxBackoffExponent = 30

// jitter is the delay before retry number retry (0 for the first), "full jitter": random (a
// draw in [0, 1)) times min(cap, base * 2^min(retry, 30)), floored to whole milliseconds.
// Randomising the whole interval spreads the retries of processes that lost the collector
// together instead of bringing them back in waves. Computed in float64 milliseconds, as every
// SDK does, so that one draw gives the same delay everywhere.
func (b backoff) jitter(retry int, random float64) time.Duration {
	n := min(max(retry, 0), maxBackoffExponent)
	ceiling := b.cap
	if b.base <= b.cap>>n { // base << n <= cap, without overflowing
		ceiling = b.base << n
	}
	ms := math.Floor(min(max(random, 0), 1) * float64(ceiling.Milliseconds()))
	return time.Duration(ms) * time.Millisecond
}

// delay is the wait before retry number retry: the jitter, raised to what Retry-After asked
// (0 when nothing), at most the cap.
func (b backoff) delay(retry int, random float64, retryAfter time.Duration) time.Duration {
	return min(b.cap, max(retryAfter, b.jitter(retry, random)))
}
