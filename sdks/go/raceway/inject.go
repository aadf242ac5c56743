package raceway

import "net/http"

// outgoing is what an outgoing call carries (spec 2.5).
type outgoing struct {
	traceID    string
	spanID     string // the client call's span, sent as traceparent's parent id
	flags      string // the context's trace flags, 00..03
	clock      encodedClock
	tracestate string
}

// inject writes the trace headers into h, replacing any copy of each (spec 2.5). A sampled
// context sends X-Raceway-Trace-Id, X-Raceway-VC, traceparent and, when it has one,
// tracestate; an unsampled one the same without the clock (spec 5.4). A context without a
// valid trace id, span id and flags writes nothing.
func inject(o outgoing, h http.Header) {
	if !isValidTraceID(o.traceID) || !isValidSpanID(o.spanID) || !isContextFlags(o.flags) {
		return
	}
	setHeader(h, HeaderTraceID, o.traceID)
	if isSampled(o.flags) {
		setHeader(h, HeaderVC, o.clock.header())
	} else {
		// A clock left by someone else belongs to no context of ours.
		deleteHeader(h, HeaderVC)
	}
	setHeader(h, HeaderTraceparent, formatTraceparent(o.traceID, o.spanID, o.flags))
	if o.tracestate != "" {
		setHeader(h, HeaderTracestate, o.tracestate)
	}
}

// isContextFlags: a context's flags are always one of 00, 01, 02, 03 (spec 2.2).
func isContextFlags(flags string) bool {
	return len(flags) == 2 && flags[0] == '0' && flags[1] >= '0' && flags[1] <= '3'
}
