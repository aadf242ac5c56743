package raceway

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync/atomic"
)

// Lengths of the identifiers of spec 1, in hex digits.
const (
	traceIDLength = 32
	spanIDLength  = 16
	// maxServicePart keeps `<service>#<8 hex>` within the 64 characters of a component.
	maxServicePart = 55
)

// newTraceID returns 32 lowercase hex digits, never all zero (spec 1).
func newTraceID() string { return randomNonZeroHex(16) }

// newSpanID returns 16 lowercase hex digits, never all zero (spec 1).
func newSpanID() string { return randomNonZeroHex(8) }

func randomNonZeroHex(n int) string {
	buf := make([]byte, n)
	for {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+ crashes instead).
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if b != 0 {
				return hex.EncodeToString(buf)
			}
		}
	}
}

// Event ids only need to be unique (spec 1, note a): a random 64-bit prefix per process and a
// 64-bit counter, which costs no random draw per event.
var (
	eventIDPrefix  = randomNonZeroHex(8)
	eventIDCounter atomic.Uint64
)

func newEventID() string {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], eventIDCounter.Add(1))
	return eventIDPrefix + hex.EncodeToString(buf[:])
}

// sanitizeServiceName gives the service part of a component (spec 3.1): every code point
// outside [A-Za-z0-9._-] becomes `_` (an invalid UTF-8 byte counts as one), cut to 55.
func sanitizeServiceName(service string) string {
	var b strings.Builder
	n := 0
	for _, r := range service {
		if n == maxServicePart {
			break
		}
		if r < 0x80 && isServiceChar(byte(r)) {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('_')
		}
		n++
	}
	return b.String()
}

func isServiceChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// newComponent names a new execution context: `<sanitized service>#<8 lowercase hex>`.
func newComponent(servicePart string) string {
	return servicePart + "#" + randomHex(4)
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// normalizeTraceID accepts 32 hex digits in any case or the dashed UUID form and returns
// 32 lowercase hex digits; ok is false for anything else and for the all-zero id (spec 1).
func normalizeTraceID(input string) (string, bool) {
	var digits string
	switch {
	case len(input) == traceIDLength && isHex(input, true):
		digits = input
	case len(input) == 36 && isUUID(input):
		digits = input[0:8] + input[9:13] + input[14:18] + input[19:23] + input[24:36]
	default:
		return "", false
	}
	digits = strings.ToLower(digits)
	if allZero(digits) {
		return "", false
	}
	return digits, true
}

func isUUID(s string) bool {
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHexDigit(s[i], true) {
			return false
		}
	}
	return true
}

// isValidTraceID reports whether s is a trace id in canonical form.
func isValidTraceID(s string) bool {
	return len(s) == traceIDLength && isHex(s, false) && !allZero(s)
}

// isValidSpanID reports whether s is a span id in canonical form.
func isValidSpanID(s string) bool {
	return len(s) == spanIDLength && isHex(s, false) && !allZero(s)
}

func isHex(s string, anyCase bool) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i], anyCase) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte, anyCase bool) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || anyCase && c >= 'A' && c <= 'F'
}

func allZero(s string) bool {
	return strings.Trim(s, "0") == ""
}
