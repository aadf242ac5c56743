package raceway

import "net/http"

// outgoing is what an outgoing call carries (spec 2.5).
type outgoing struct {
	traceID    string
	spanID     string // the client call's span, sent as traceparent's parent id
	clock      encodedClock
	flags      string
	tracestate string
}

// inject writes X-Raceway-Trace-Id, X-Raceway-VC, traceparent and, when there is one,
// tracestate into h, replacing any copy of each (spec 2.5). A context without a valid trace id
// and span id writes nothing.
func inject(o outgoing, h http.Header) {
	if !isValidTraceID(o.traceID) || !isValidSpanID(o.spanID) {
		return
	}
	flags := o.flags
	if flags == "" {
		flags = "01"
	}
	setHeader(h, HeaderTraceID, o.traceID)
	setHeader(h, HeaderVC, o.clock.header())
	setHeader(h, HeaderTraceparent, formatTraceparent(o.traceID, o.spanID, flags))
	if o.tracestate != "" {
		setHeader(h, HeaderTracestate, o.tracestate)
	}
}
