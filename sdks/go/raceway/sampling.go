package raceway

import "strconv"

// sampledByTraceID is head sampling as a pure function of the trace id, the same in every SDK:
// the rightmost 56 bits of the id (the part W3C level 2 makes random) read as an integer, are
// sampled when below rate * 2^56.
func sampledByTraceID(traceID string, rate float64) bool {
	if rate >= 1 {
		return true
	}
	if rate <= 0 || len(traceID) != traceIDLength {
		return false
	}
	r, err := strconv.ParseUint(traceID[traceIDLength-14:], 16, 64)
	if err != nil {
		return false
	}
	return float64(r) < rate*(1<<56)
}
