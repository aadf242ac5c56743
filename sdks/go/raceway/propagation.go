package raceway

import (
	"net/http"
	"strings"
)

// Header names as the contract emits them (spec 2). http.Header canonicalises names on Set;
// setHeader writes them exactly as given.
const (
	HeaderTraceID     = "X-Raceway-Trace-Id"
	HeaderVC          = "X-Raceway-VC"
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// headerValues returns every copy of a header, matching its name case-insensitively across all
// spellings present in h (a map built by hand may hold "traceparent" and "Traceparent"; the
// contract reads them as one header received twice). Headers that net/http parsed have one
// canonical spelling, which is returned without a copy.
func headerValues(h http.Header, name string) []string {
	var first, out []string
	matches := 0
	for k, v := range h {
		if len(k) != len(name) || !strings.EqualFold(k, name) {
			continue
		}
		matches++
		switch matches {
		case 1:
			first = v
		case 2:
			out = append(append(out, first...), v...)
		default:
			out = append(out, v...)
		}
	}
	if matches == 1 {
		return first
	}
	return out
}

// setHeader replaces every spelling of name with one copy under the name as given (spec 2.5):
// an injector installed twice, or a retried request, still carries one copy.
func setHeader(h http.Header, name, value string) {
	deleteHeader(h, name)
	h[name] = []string{value}
}

// deleteHeader removes every spelling of name.
func deleteHeader(h http.Header, name string) {
	for k := range h {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}

// trimOWS trims optional whitespace, space and horizontal tab only (spec 2.1).
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// headerCopies trims every copy and leaves out the empty ones (spec 2.1); with splitCommas a
// comma-separated value counts as several copies.
func headerCopies(values []string, splitCommas bool) []string {
	var copies []string
	for _, v := range values {
		if !splitCommas {
			if t := trimOWS(v); t != "" {
				copies = append(copies, t)
			}
			continue
		}
		for _, part := range strings.Split(v, ",") {
			if t := trimOWS(part); t != "" {
				copies = append(copies, t)
			}
		}
	}
	return copies
}

// singleValue reduces copies to one value: present is false when there is none, conflict is
// true when the copies differ (spec 2.1, compared as received).
func singleValue(copies []string) (value string, present, conflict bool) {
	if len(copies) == 0 {
		return "", false, false
	}
	for _, c := range copies[1:] {
		if c != copies[0] {
			return "", true, true
		}
	}
	return copies[0], true, false
}
