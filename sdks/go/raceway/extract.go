package raceway

import "net/http"

// Rejection reasons of spec 2.4, in the order they are reported.
const (
	reasonTraceIDInvalid     = "trace_id_invalid"
	reasonTraceparentInvalid = "traceparent_invalid"
	reasonDuplicateConflict  = "duplicate_conflict"
	reasonTraceIDMismatch    = "trace_id_mismatch"
	reasonTracestateInvalid  = "tracestate_invalid"
)

var reasonOrder = []string{
	reasonTraceIDInvalid,
	reasonTraceparentInvalid,
	reasonDuplicateConflict,
	reasonTraceIDMismatch,
	reasonVCInvalid,
	reasonVCOversized,
	reasonTracestateInvalid,
}

// How the incoming context was taken (spec 2.4).
const (
	statusAccepted = "accepted"
	statusDegraded = "degraded"
	statusRejected = "rejected"
	statusAbsent   = "absent"
)

// incoming is what an incoming request carried (spec 2.1).
type incoming struct {
	traceID      string // "" starts a new trace
	parentSpanID string // "" when there is none
	parent       *traceparent
	traceFlags   string // the flags to propagate, "" when no traceparent of the trace was kept
	clock        vclock // nil when none was taken
	clockDropped uint64
	tracestate   string // "" when none is passed on
	status       string
	reasons      []string // nil or in reasonOrder
}

// reasonSet collects reasons and returns them in the order of spec 2.4, each once.
type reasonSet uint8

func (r *reasonSet) add(reason string) {
	for i, name := range reasonOrder {
		if name == reason {
			*r |= 1 << i
		}
	}
}

func (r reasonSet) list() []string {
	if r == 0 {
		return nil
	}
	out := make([]string, 0, 2)
	for i, name := range reasonOrder {
		if r&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// extract reads the incoming trace context from request headers (spec 2.1-2.4). It never
// panics and never fails: what is malformed is left out and named in reasons.
func extract(h http.Header) incoming {
	traceIDCopies := headerCopies(headerValues(h, HeaderTraceID), true)
	traceparentCopies := headerCopies(headerValues(h, HeaderTraceparent), true)
	vcCopies := headerCopies(headerValues(h, HeaderVC), false)
	tracestateCopies := headerCopies(headerValues(h, HeaderTracestate), false)
	if len(traceIDCopies) == 0 && len(traceparentCopies) == 0 &&
		len(vcCopies) == 0 && len(tracestateCopies) == 0 {
		return incoming{status: statusAbsent}
	}

	var reasons reasonSet
	headerID, headerOK := readTraceIDHeader(traceIDCopies, &reasons)
	parent, parentOK := readTraceparentHeader(traceparentCopies, &reasons)

	in := incoming{}
	switch {
	case headerOK:
		in.traceID = headerID
		if parentOK && parent.traceID != headerID {
			reasons.add(reasonTraceIDMismatch)
		}
	case parentOK:
		in.traceID = parent.traceID
	default:
		return incoming{status: statusRejected, reasons: reasons.list()}
	}
	// A traceparent of another trace names a span of that trace: neither its parent id nor
	// its tracestate belong here.
	sameTrace := parentOK && parent.traceID == in.traceID
	if sameTrace {
		in.parentSpanID = parent.parentID
		in.parent = &parent
		in.traceFlags = knownFlags(parent.flags)
	}

	if vc, present, conflict := singleValue(vcCopies); conflict {
		reasons.add(reasonDuplicateConflict)
	} else if present {
		if d := decodeClock(vc); d.reason != "" {
			reasons.add(d.reason)
		} else {
			in.clock, in.clockDropped = d.clock, d.dropped
		}
	}

	if sameTrace && len(tracestateCopies) > 0 {
		if ts, ok := parseTracestate(tracestateCopies); ok {
			in.tracestate = ts
		} else {
			reasons.add(reasonTracestateInvalid)
		}
	}

	in.reasons = reasons.list()
	in.status = statusAccepted
	if in.reasons != nil {
		in.status = statusDegraded
	}
	return in
}

func readTraceIDHeader(copies []string, reasons *reasonSet) (string, bool) {
	value, present, conflict := singleValue(copies)
	switch {
	case !present:
		return "", false
	case conflict:
		reasons.add(reasonDuplicateConflict)
		return "", false
	}
	id, ok := normalizeTraceID(value)
	if !ok {
		reasons.add(reasonTraceIDInvalid)
	}
	return id, ok
}

func readTraceparentHeader(copies []string, reasons *reasonSet) (traceparent, bool) {
	value, present, conflict := singleValue(copies)
	switch {
	case !present:
		return traceparent{}, false
	case conflict:
		reasons.add(reasonDuplicateConflict)
		return traceparent{}, false
	}
	tp, ok := parseTraceparent(value)
	if !ok {
		reasons.add(reasonTraceparentInvalid)
	}
	return tp, ok
}

// Trace flags Raceway knows (W3C Trace Context level 2): sampled and random. Unknown bits are
// zeroed, the known ones propagated as received (spec 2.2).
const (
	flagSampled = 0x01
	flagRandom  = 0x02
)

// knownFlags keeps the known bits of two lowercase hex digits of trace flags.
func knownFlags(flags string) string {
	return formatFlags(hexNibble(flags[1]) & (flagSampled | flagRandom))
}

func formatFlags(bits byte) string {
	return "0" + string("0123"[bits&3])
}

func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}
