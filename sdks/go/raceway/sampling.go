package raceway

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// twoPow56 is 2^56: the range of R, the random part of a trace id (its last 14 hex digits).
const twoPow56 = 1 << 56

// samplingThreshold is T = floor((1 - rate) * 2^56) in IEEE-754 doubles (spec 5.1). Go's
// float64 arithmetic is that: 1 - rate rounds once, times 2^56 is exact, and the floored
// result (at most 2^56) converts to uint64 exactly.
func samplingThreshold(rate float64) uint64 {
	return uint64(math.Floor((1 - rate) * twoPow56))
}

// sampledRoot is the root decision (spec 5.1): R >= T, compared as exact integers.
func sampledRoot(traceID string, rate float64) bool {
	if len(traceID) != traceIDLength {
		return false
	}
	r, err := strconv.ParseUint(traceID[traceIDLength-14:], 16, 64)
	if err != nil {
		return false
	}
	return r >= samplingThreshold(rate)
}

// decideFlags gives the trace flags of a new server context (spec 5.2): the flags of a joined
// traceparent as they are; for a trace started here, random plus the root decision (03 or 02);
// for a trace joined through X-Raceway-Trace-Id alone, the root decision without random.
func decideFlags(traceID string, rate float64, joined bool, received string) string {
	if received != "" {
		return received
	}
	var bits byte
	if !joined {
		bits |= flagRandom
	}
	if sampledRoot(traceID, rate) {
		bits |= flagSampled
	}
	return formatFlags(bits)
}

// isSampled reads the sampled bit of a context's flags.
func isSampled(flags string) bool {
	return len(flags) == 2 && hexNibble(flags[1])&flagSampled != 0
}

var sampleRateText = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseSampleRate reads RACEWAY_SAMPLE_RATE (spec 5.3): trimmed of spaces and tabs, empty is
// unset (set false); otherwise `[0-9]+(\.[0-9]+)?` from 0 to 1, or an error. No sign,
// exponent, hex, inf or nan, which parsers of different languages read differently.
func parseSampleRate(env string) (rate float64, set, ok bool) {
	text := strings.Trim(env, " \t")
	if text == "" {
		return 0, false, true
	}
	if !sampleRateText.MatchString(text) {
		return 0, true, false
	}
	rate, err := strconv.ParseFloat(text, 64) // the nearest double
	if err != nil || rate < 0 || rate > 1 {
		return 0, true, false
	}
	return rate, true, true
}
