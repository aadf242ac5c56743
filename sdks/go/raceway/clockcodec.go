package raceway

import (
	"sort"
	"strconv"
	"strings"
)

const (
	// maxClockEntries is the most entries a clock carries on the wire (spec 3.4).
	maxClockEntries = 64
	// maxClockHeaderBytes is the longest X-Raceway-VC value a decoder reads (spec 3.3).
	maxClockHeaderBytes = 8192
	// droppedKey is the reserved key that counts the entries a truncated clock left out.
	droppedKey   = "~dropped"
	maxKeyLength = 64
)

// Why a clock was refused (spec 2.4).
const (
	reasonVCInvalid   = "vc_invalid"
	reasonVCOversized = "vc_oversized"
)

// encodedClock is a clock in canonical form cut to 64 entries, without the ~dropped marker,
// and the count that marker carries. Events carry json as their clock snapshot with dropped in
// clock_dropped; a header carries both (header()).
type encodedClock struct {
	json    string
	dropped uint64
}

// header is the X-Raceway-VC value: json with the `"~dropped":n` marker last when n > 0.
func (e encodedClock) header() string {
	if e.dropped == 0 {
		return e.json
	}
	marker := `"` + droppedKey + `":` + strconv.FormatUint(e.dropped, 10) + "}"
	if len(e.json) == 2 {
		return "{" + marker
	}
	return e.json[:len(e.json)-1] + "," + marker
}

// encodeClock is the canonical encoding of spec 3.3 with the bound of spec 3.4: above 64
// entries, own is kept, then the highest counters (ties: the smaller key); the entries left
// out are added to alreadyDropped (those the clock lacked when it was received).
func encodeClock(c vclock, own string, alreadyDropped uint64) encodedClock {
	keys := c.sortedKeys()
	dropped := alreadyDropped
	if len(keys) > maxClockEntries {
		dropped += uint64(len(keys) - maxClockEntries)
		if dropped > maxCounter {
			dropped = maxCounter
		}
		keys = keptKeys(c, keys, own)
	}
	var b strings.Builder
	b.Grow(2 + len(keys)*24)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(k)
		b.WriteString(`":`)
		b.WriteString(strconv.FormatUint(c[k], 10))
	}
	b.WriteByte('}')
	return encodedClock{json: b.String(), dropped: dropped}
}

// keptKeys chooses the 64 keys a cut clock keeps and returns them in canonical order.
func keptKeys(c vclock, sorted []string, own string) []string {
	ranked := append([]string(nil), sorted...)
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a == own || b == own {
			return a == own && b != own
		}
		// Stable over the byte-ordered input: equal counters keep the smaller key first.
		return c[a] > c[b]
	})
	kept := make(map[string]struct{}, maxClockEntries)
	for _, k := range ranked[:maxClockEntries] {
		kept[k] = struct{}{}
	}
	out := make([]string, 0, maxClockEntries)
	for _, k := range sorted {
		if _, ok := kept[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// decodedClock is what decodeClock gives: the clock and its ~dropped count, or a reason.
type decodedClock struct {
	clock   vclock
	dropped uint64
	reason  string // "" when ok
}

// isKeyChar is the alphabet of component names that decoders accept (spec 3.1).
func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("._:#@/+-", c) >= 0
}

// decodeClock reads an X-Raceway-VC value strictly (spec 3.3, 3.4). The length is checked
// first; then one left-to-right pass stops at the first problem, a 65th entry being one.
// encoding/json is not used: it keeps the last of duplicate keys and accepts fractions,
// exponents and escapes, all of which the contract refuses.
func decodeClock(input string) decodedClock {
	if len(input) > maxClockHeaderBytes {
		return decodedClock{reason: reasonVCOversized}
	}
	invalid := decodedClock{reason: reasonVCInvalid}
	s := clockScanner{in: input}
	s.skipSpace()
	if !s.eat('{') {
		return invalid
	}
	entries := vclock{}
	var dropped uint64
	markerSeen := false
	s.skipSpace()
	if s.eat('}') {
		s.skipSpace()
		if s.i != len(s.in) {
			return invalid
		}
		return decodedClock{clock: entries}
	}
	for {
		if !s.eat('"') {
			return invalid
		}
		isMarker := strings.HasPrefix(s.in[s.i:], droppedKey+`"`)
		var key string
		if isMarker {
			if markerSeen {
				return invalid // the marker twice is a duplicate key
			}
			markerSeen = true
			s.i += len(droppedKey) + 1
		} else {
			if len(entries) >= maxClockEntries {
				return decodedClock{reason: reasonVCOversized}
			}
			start := s.i
			for s.i < len(s.in) && isKeyChar(s.in[s.i]) {
				s.i++
			}
			n := s.i - start
			if n == 0 || n > maxKeyLength || !s.eat('"') {
				return invalid
			}
			key = s.in[start : start+n]
		}
		s.skipSpace()
		if !s.eat(':') {
			return invalid
		}
		s.skipSpace()
		value, ok := s.counter()
		if !ok {
			return invalid
		}
		if isMarker {
			dropped = value
		} else {
			if _, dup := entries[key]; dup {
				return invalid
			}
			entries[key] = value
		}
		s.skipSpace()
		if s.eat(',') {
			s.skipSpace()
			continue
		}
		if s.eat('}') {
			break
		}
		return invalid
	}
	s.skipSpace()
	if s.i != len(s.in) {
		return invalid
	}
	return decodedClock{clock: entries, dropped: dropped}
}

type clockScanner struct {
	in string
	i  int
}

func (s *clockScanner) skipSpace() {
	for s.i < len(s.in) {
		switch s.in[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *clockScanner) eat(c byte) bool {
	if s.i < len(s.in) && s.in[s.i] == c {
		s.i++
		return true
	}
	return false
}

// counter reads [1-9][0-9]* up to 2^53-1. A leading 0, a sign, a quote, a fraction or an
// exponent fails here or at the token check that follows.
func (s *clockScanner) counter() (uint64, bool) {
	if s.i >= len(s.in) || s.in[s.i] < '1' || s.in[s.i] > '9' {
		return 0, false
	}
	var value uint64
	for digits := 0; s.i < len(s.in) && s.in[s.i] >= '0' && s.in[s.i] <= '9'; digits++ {
		if digits == 16 { // 2^53-1 has 16 digits
			return 0, false
		}
		value = value*10 + uint64(s.in[s.i]-'0')
		s.i++
	}
	return value, value <= maxCounter
}
