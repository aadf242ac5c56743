package raceway

const traceparentLength = 55

// traceparent is a parsed W3C traceparent (spec 2.2).
type traceparent struct {
	version  string
	traceID  string
	parentID string
	flags    string
}

// parseTraceparent follows W3C Trace Context level 1 (spec 2.2): version 00 is exactly 55
// characters; a higher version (never ff) may be longer if the 56th character is `-`.
func parseTraceparent(v string) (traceparent, bool) {
	if len(v) < traceparentLength {
		return traceparent{}, false
	}
	version := v[0:2]
	if !isHex(version, false) || version == "ff" {
		return traceparent{}, false
	}
	if version == "00" && len(v) != traceparentLength {
		return traceparent{}, false
	}
	if len(v) > traceparentLength && v[traceparentLength] != '-' {
		return traceparent{}, false
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return traceparent{}, false
	}
	tp := traceparent{version: version, traceID: v[3:35], parentID: v[36:52], flags: v[53:55]}
	if !isValidTraceID(tp.traceID) || !isValidSpanID(tp.parentID) || !isHex(tp.flags, false) {
		return traceparent{}, false
	}
	return tp, true
}

// formatTraceparent is the traceparent Raceway emits: version 00 with the given flags.
func formatTraceparent(traceID, spanID, flags string) string {
	return "00-" + traceID + "-" + spanID + "-" + flags
}
